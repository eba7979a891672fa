package data

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"

	"github.com/shoal-dl/shoal/tensor"
)

// Batch is one mini-batch of examples.
type Batch struct {
	X       *tensor.Tensor // [B, featureShape...]
	Y       *tensor.Tensor // [B, targetShape...]
	Labels  []int32        // class labels when TargetShape is [] (nil otherwise)
	Indices []int          // dataset indices of the examples, in batch order
}

// Len returns the number of examples in the batch.
func (b *Batch) Len() int { return len(b.Indices) }

// LoaderOptions configure a Loader. The zero value of every field but
// BatchSize is usable: no shuffling, one worker, no prefetch.
type LoaderOptions struct {
	// BatchSize is the number of examples per batch on every rank.
	BatchSize int
	// RankBatchSizes, when set, gives each rank its own batch size (one entry
	// per rank, len == World), for workers of different speed. It overrides
	// BatchSize. Each rank's share of an epoch is then proportional to its
	// batch size and all ranks run the same number of batches; see
	// ShardIndicesBySize.
	RankBatchSizes []int
	// Shuffle draws a new order of the examples every epoch from Seed and
	// the epoch number. Without it the order is the dataset's.
	Shuffle bool
	// Seed selects the shuffle; the same Seed gives the same batches.
	Seed uint64
	// Rank and World select this worker's shard: 0 <= Rank < World. World 0
	// means 1.
	Rank, World int
	// Prefetch is how many batches a background goroutine prepares ahead of
	// the consumer; 0 reads each batch when it is asked for.
	Prefetch int
	// DropLast leaves out a last batch smaller than BatchSize, so that every
	// batch has the same shape.
	DropLast bool
}

// EnsureDefaults fills in the defaults of unset fields (World 0 becomes 1).
func (o *LoaderOptions) EnsureDefaults() {
	if o.World == 0 {
		o.World = 1
	}
}

// Validate reports the first option that cannot work.
func (o *LoaderOptions) Validate() error {
	if err := ValidateRank(o.Rank, o.World); err != nil {
		return err
	}
	if o.Prefetch < 0 {
		return fmt.Errorf("data: prefetch %d: must be 0 or more", o.Prefetch)
	}
	if o.RankBatchSizes != nil {
		if len(o.RankBatchSizes) != o.World {
			return fmt.Errorf("data: %d per-rank batch sizes for a world of %d workers; give one per rank", len(o.RankBatchSizes), o.World)
		}
		for r, b := range o.RankBatchSizes {
			if b < 1 {
				return fmt.Errorf("data: batch size %d for rank %d: must be at least 1", b, r)
			}
		}
		return nil
	}
	if o.BatchSize < 1 {
		return fmt.Errorf("data: batch size %d: must be at least 1", o.BatchSize)
	}
	return nil
}

// Loader cuts a Dataset into mini-batches for one rank: shuffled per epoch,
// sharded by rank, optionally prefetched in the background. A Loader holds no
// goroutine between calls and may serve several epochs at once.
type Loader struct {
	ds        Dataset
	errReader ErrReader // ds as an ErrReader, or nil
	opts      LoaderOptions
	batchSize int // this rank's; with RankBatchSizes, in the latest split

	// With RankBatchSizes: splits[i] holds from batch splits[i].from of an
	// epoch on (splits[0].from is 0), and prepared is the highest batch
	// number a running epoch has started to prepare. mu guards both.
	mu       sync.Mutex
	splits   []split
	prepared int

	featShape, targetShape []int
	featVol, targetVol     int
	labels                 bool // targets are scalar class labels
}

// NewLoader returns a loader over ds. It checks opts and that the dataset's
// shapes are usable; the dataset must not change size while in use.
func NewLoader(ds Dataset, opts LoaderOptions) (*Loader, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.RankBatchSizes = slices.Clone(opts.RankBatchSizes)
	l := &Loader{
		ds:          ds,
		opts:        opts,
		batchSize:   opts.BatchSize,
		featShape:   ds.FeatureShape(),
		targetShape: ds.TargetShape(),
	}
	if opts.RankBatchSizes != nil {
		l.batchSize = opts.RankBatchSizes[opts.Rank]
		l.splits = []split{newSplit(0, opts.RankBatchSizes, opts.Rank)}
		l.prepared = -1
	}
	var err error
	if l.featVol, err = shapeVolume(l.featShape); err != nil || l.featVol == 0 {
		return nil, fmt.Errorf("data: NewLoader: unusable feature shape %v", l.featShape)
	}
	if l.targetVol, err = shapeVolume(l.targetShape); err != nil || l.targetVol == 0 {
		return nil, fmt.Errorf("data: NewLoader: unusable target shape %v", l.targetShape)
	}
	l.labels = len(l.targetShape) == 0
	l.errReader, _ = ds.(ErrReader)
	return l, nil
}

// BatchSize returns this rank's batch size (with RankBatchSizes, in the
// latest split).
func (l *Loader) BatchSize() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.batchSize
}

// split is one division of the global batch among the ranks, in force
// from batch number from of an epoch on: this rank takes size examples at
// offset within each global batch of global examples.
type split struct {
	from, offset, size, global int
}

func newSplit(from int, sizes []int, rank int) split {
	sp := split{from: from, size: sizes[rank]}
	for r, b := range sizes {
		if r < rank {
			sp.offset += b
		}
		sp.global += b
	}
	return sp
}

// Resplit changes the per-rank batch sizes of a loader made with
// RankBatchSizes, from batch number from of the epoch in progress (and of
// later epochs) on: workers whose speeds turn out other than measured can
// rebalance mid-epoch. The global batch, and so the number of batches per
// epoch, must stay the same; every rank must make the same call, so that
// each global batch is still split without overlap. from must be past
// every batch already prepared: with Prefetch p, a consumer holding batch
// k may pass k+p+1.
func (l *Loader) Resplit(sizes []int, from int) error {
	if l.splits == nil {
		return fmt.Errorf("data: Resplit: the loader was made without RankBatchSizes")
	}
	o := l.opts
	o.RankBatchSizes = sizes
	if err := o.Validate(); err != nil {
		return err
	}
	sp := newSplit(from, sizes, o.Rank)
	l.mu.Lock()
	defer l.mu.Unlock()
	last := l.splits[len(l.splits)-1]
	switch {
	case sp.global != last.global:
		return fmt.Errorf("data: Resplit: the sizes add up to %d, not to the global batch of %d", sp.global, last.global)
	case from <= l.prepared || from < last.from:
		return fmt.Errorf("data: Resplit from batch %d: batch %d is already prepared or split", from, max(l.prepared, last.from))
	}
	if from == last.from {
		l.splits[len(l.splits)-1] = sp
	} else {
		l.splits = append(l.splits, sp)
	}
	l.batchSize = sp.size
	return nil
}

// splitAt returns the split in force at batch k.
func splitAt(splits []split, k int) split {
	sp := splits[0]
	for _, s := range splits[1:] {
		if s.from <= k {
			sp = s
		}
	}
	return sp
}

// batchOf returns this rank's indices in global batch k of perm (with
// RankBatchSizes), noting that batch k is being prepared.
func (l *Loader) batchOf(perm []int, k int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prepared = max(l.prepared, k)
	sp := splitAt(l.splits, k)
	start := k*sp.global + sp.offset
	return perm[start : start+sp.size]
}

// shardLen returns the number of examples this rank sees per epoch.
func (l *Loader) shardLen() int {
	return l.ds.Len() / l.opts.World
}

// NumBatches returns the number of batches per epoch, the same on every
// rank.
func (l *Loader) NumBatches() int {
	if l.splits != nil {
		return l.ds.Len() / l.splits[0].global
	}
	n := l.shardLen()
	if l.opts.DropLast {
		return n / l.batchSize
	}
	return (n + l.batchSize - 1) / l.batchSize
}

// Indices returns the dataset indices this rank visits in the given epoch,
// in order: the epoch's permutation (or the identity without Shuffle),
// sharded by rank, cut to whole batches when DropLast is set.
func (l *Loader) Indices(epoch int) []int {
	perm := l.perm(epoch)
	if l.splits != nil {
		var own []int
		l.mu.Lock()
		splits := slices.Clone(l.splits)
		l.mu.Unlock()
		for k := range l.NumBatches() {
			sp := splitAt(splits, k)
			start := k*sp.global + sp.offset
			own = append(own, perm[start:start+sp.size]...)
		}
		return own
	}
	own := ShardIndices(perm, l.opts.Rank, l.opts.World)
	if l.opts.DropLast {
		own = own[:len(own)/l.batchSize*l.batchSize]
	}
	return own
}

// perm returns the order of the examples in the given epoch.
func (l *Loader) perm(epoch int) []int {
	n := l.ds.Len()
	if l.opts.Shuffle {
		return Permutation(l.opts.Seed, epoch, n)
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	return perm
}

// Batches yields the batches of one epoch for this rank. The order comes
// from a permutation derived from Seed and epoch, sharded by rank, so every
// rank computes its disjoint share without talking to the others. With
// Prefetch > 0 a background goroutine fills up to Prefetch batches ahead.
//
// A yielded Batch (and its tensors) is valid until the next iteration.
// Stopping the loop early or cancelling ctx stops the goroutine before
// Batches returns. A read error or ctx's error is yielded once, with a nil
// batch, and ends the epoch.
func (l *Loader) Batches(ctx context.Context, epoch int) iter.Seq2[*Batch, error] {
	return l.BatchesFrom(ctx, epoch, 0)
}

// BatchesFrom is Batches starting at batch number start of the epoch, for
// resuming from a checkpoint taken mid-epoch.
func (l *Loader) BatchesFrom(ctx context.Context, epoch, start int) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		start = max(start, 0)
		var nb int
		var at func(k int) []int // the indices of batch k
		if l.splits != nil {
			perm := l.perm(epoch)
			l.mu.Lock()
			l.prepared = start - 1
			l.mu.Unlock()
			nb, at = l.NumBatches(), func(k int) []int { return l.batchOf(perm, k) }
		} else {
			idx := l.Indices(epoch)
			nb = (len(idx) + l.batchSize - 1) / l.batchSize
			at = func(k int) []int { return l.batchRange(idx, k) }
		}
		if l.opts.Prefetch == 0 {
			l.serial(ctx, start, nb, at, yield)
			return
		}
		l.prefetched(ctx, start, nb, at, yield)
	}
}

// batchBuf is the storage behind one Batch, reused from batch to batch.
type batchBuf struct {
	batch  Batch
	x, y   []float32
	labels []int32
	idx    []int
}

func (l *Loader) newBuf() *batchBuf {
	b := &batchBuf{}
	b.batch.X = &tensor.Tensor{Shape: append([]int{0}, l.featShape...)}
	b.batch.Y = &tensor.Tensor{Shape: append([]int{0}, l.targetShape...)}
	l.grow(b, l.BatchSize())
	return b
}

// grow makes buf hold batches of n examples.
func (l *Loader) grow(b *batchBuf, n int) {
	if len(b.idx) >= n {
		return
	}
	b.x, b.y, b.idx = make([]float32, n*l.featVol), make([]float32, n*l.targetVol), make([]int, n)
	if l.labels {
		b.labels = make([]int32, n)
	}
}

// fill reads the examples idx into buf and points buf.batch at them.
func (l *Loader) fill(buf *batchBuf, idx []int) error {
	n := len(idx)
	l.grow(buf, n) // a Resplit may have enlarged this rank's batches
	fv, tv := l.featVol, l.targetVol
	for k, i := range idx {
		f, t := buf.x[k*fv:(k+1)*fv], buf.y[k*tv:(k+1)*tv]
		if l.errReader != nil {
			if err := l.errReader.ReadErr(i, f, t); err != nil {
				return err
			}
		} else {
			l.ds.Read(i, f, t)
		}
		if l.labels {
			buf.labels[k] = int32(t[0])
		}
	}
	copy(buf.idx, idx)
	b := &buf.batch
	b.X.Shape[0], b.X.Data = n, buf.x[:n*fv]
	b.Y.Shape[0], b.Y.Data = n, buf.y[:n*tv]
	b.Indices = buf.idx[:n]
	if l.labels {
		b.Labels = buf.labels[:n]
	}
	return nil
}

// batchRange returns the indices of batch k of idx.
func (l *Loader) batchRange(idx []int, k int) []int {
	return idx[k*l.batchSize : min((k+1)*l.batchSize, len(idx))]
}

func (l *Loader) serial(ctx context.Context, start, nb int, at func(int) []int, yield func(*Batch, error) bool) {
	buf := l.newBuf()
	for k := start; k < nb; k++ {
		if err := ctx.Err(); err != nil {
			yield(nil, err)
			return
		}
		if err := l.fill(buf, at(k)); err != nil {
			yield(nil, err)
			return
		}
		if !yield(&buf.batch, nil) {
			return
		}
	}
}

// filled is one prepared batch, or the error that ended preparation.
type filled struct {
	buf *batchBuf
	err error
}

func (l *Loader) prefetched(ctx context.Context, start, nb int, at func(int) []int, yield func(*Batch, error) bool) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Prefetch buffers may wait in ready while the consumer holds one more.
	free := make(chan *batchBuf, l.opts.Prefetch+1)
	for range l.opts.Prefetch + 1 {
		free <- l.newBuf()
	}
	ready := make(chan filled, l.opts.Prefetch)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ready)
		for k := start; k < nb; k++ {
			var buf *batchBuf
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			err := l.fill(buf, at(k))
			select {
			case ready <- filled{buf, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()

	var held *batchBuf
	for {
		var f filled
		var ok bool
		select {
		case f, ok = <-ready:
		case <-ctx.Done():
		}
		// Checked on every batch so that cancellation wins over batches
		// that are already prepared.
		if err := ctx.Err(); err != nil {
			yield(nil, err)
			return
		}
		if !ok {
			return
		}
		if f.err != nil {
			yield(nil, f.err)
			return
		}
		if held != nil {
			free <- held // never blocks: free has room for every buffer
		}
		held = f.buf
		if !yield(&held.batch, nil) {
			return
		}
	}
}

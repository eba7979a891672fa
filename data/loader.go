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
	batchSize int // this rank's

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

// BatchSize returns this rank's batch size.
func (l *Loader) BatchSize() int { return l.batchSize }

// shardLen returns the number of examples this rank sees per epoch.
func (l *Loader) shardLen() int {
	n := l.ds.Len()
	if l.opts.RankBatchSizes != nil {
		global := 0
		for _, b := range l.opts.RankBatchSizes {
			global += b
		}
		return n / global * l.batchSize
	}
	return n / l.opts.World
}

// NumBatches returns the number of batches per epoch, the same on every
// rank.
func (l *Loader) NumBatches() int {
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
	n := l.ds.Len()
	var perm []int
	if l.opts.Shuffle {
		perm = Permutation(l.opts.Seed, epoch, n)
	} else {
		perm = make([]int, n)
		for i := range perm {
			perm[i] = i
		}
	}
	var own []int
	if l.opts.RankBatchSizes != nil {
		own = ShardIndicesBySize(perm, l.opts.Rank, l.opts.RankBatchSizes)
	} else {
		own = ShardIndices(perm, l.opts.Rank, l.opts.World)
	}
	if l.opts.DropLast {
		own = own[:len(own)/l.batchSize*l.batchSize]
	}
	return own
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
		idx := l.Indices(epoch)
		if start < 0 {
			start = 0
		}
		first := min(start*l.batchSize, len(idx))
		idx = idx[first:]
		if l.opts.Prefetch == 0 {
			l.serial(ctx, idx, yield)
			return
		}
		l.prefetched(ctx, idx, yield)
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
	b := &batchBuf{
		x:   make([]float32, l.batchSize*l.featVol),
		y:   make([]float32, l.batchSize*l.targetVol),
		idx: make([]int, l.batchSize),
	}
	b.batch.X = &tensor.Tensor{Shape: append([]int{l.batchSize}, l.featShape...)}
	b.batch.Y = &tensor.Tensor{Shape: append([]int{l.batchSize}, l.targetShape...)}
	if l.labels {
		b.labels = make([]int32, l.batchSize)
	}
	return b
}

// fill reads the examples idx into buf and points buf.batch at them.
func (l *Loader) fill(buf *batchBuf, idx []int) error {
	n := len(idx)
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

func (l *Loader) serial(ctx context.Context, idx []int, yield func(*Batch, error) bool) {
	buf := l.newBuf()
	for k := 0; k*l.batchSize < len(idx); k++ {
		if err := ctx.Err(); err != nil {
			yield(nil, err)
			return
		}
		if err := l.fill(buf, l.batchRange(idx, k)); err != nil {
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

func (l *Loader) prefetched(ctx context.Context, idx []int, yield func(*Batch, error) bool) {
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
		for k := 0; k*l.batchSize < len(idx); k++ {
			var buf *batchBuf
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			err := l.fill(buf, l.batchRange(idx, k))
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

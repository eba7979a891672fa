package optim

import (
	"math"

	"github.com/shoal-dl/shoal/internal/workers"
)

// Arenas shorter than parallelMin are updated on the calling goroutine;
// longer ones are split into chunks of at least minChunk elements, one per
// thread. Below these sizes starting goroutines costs more than it saves.
// They are variables only so that tests can exercise the chunked path on
// small arenas.
var (
	parallelMin = 1 << 16
	minChunk    = 1 << 15
)

// Chunk starts are multiples of chunkAlign elements (64 bytes) so that two
// goroutines never write the same cache line.
const chunkAlign = 16

// chunkRunner runs body over [0, n) split into fixed chunks, on the caller
// and the kernel workers (internal/workers). Every element is updated by
// the same code whatever the split, so results do not depend on the number
// of chunks; run allocates nothing.
type chunkRunner struct {
	n, size, count int // count chunks of size elements (the last may be short)
	body           func(lo, hi int)
}

func newChunkRunner(n, threads int, body func(lo, hi int)) *chunkRunner {
	r := &chunkRunner{n: n, body: body, size: n, count: 1}
	chunks := 1
	if n >= parallelMin {
		chunks = max(1, min(threads, n/minChunk))
	}
	if chunks == 1 {
		return r
	}
	r.size = ((n+chunks-1)/chunks + chunkAlign - 1) / chunkAlign * chunkAlign
	r.count = (n + r.size - 1) / r.size
	return r
}

// chunks returns how many chunks run splits the arena into.
func (r *chunkRunner) chunks() int { return r.count }

// run applies body to every chunk and returns when all are done.
func (r *chunkRunner) run() {
	if r.count == 1 {
		r.body(0, r.n)
		return
	}
	workers.Run(r.count, r.count, r)
}

// RunPart applies body to chunk i.
func (r *chunkRunner) RunPart(i int) {
	lo := i * r.size
	r.body(lo, min(lo+r.size, r.n))
}

// span is a half-open range [lo, hi) of arena elements.
type span struct{ lo, hi int }

// decaySpans keeps a weight-decay mask as the sorted ranges where decay
// applies; nil spans with all false means every element decays.
type decaySpans struct {
	masked bool   // a mask was given
	spans  []span // sorted, disjoint ranges where the mask is true
}

func newDecaySpans(mask []bool) decaySpans {
	if mask == nil {
		return decaySpans{}
	}
	d := decaySpans{masked: true}
	for i := 0; i < len(mask); {
		if !mask[i] {
			i++
			continue
		}
		j := i
		for j < len(mask) && mask[j] {
			j++
		}
		d.spans = append(d.spans, span{i, j})
		i = j
	}
	return d
}

// walk calls fn on consecutive pieces of [lo, hi), telling each whether
// weight decay applies there.
func (d *decaySpans) walk(lo, hi int, fn func(lo, hi int, decayed bool)) {
	if !d.masked {
		fn(lo, hi, true)
		return
	}
	// First span that ends after lo.
	i, j := 0, len(d.spans)
	for i < j {
		m := int(uint(i+j) >> 1)
		if d.spans[m].hi > lo {
			j = m
		} else {
			i = m + 1
		}
	}
	for lo < hi {
		if i == len(d.spans) || d.spans[i].lo >= hi {
			fn(lo, hi, false)
			return
		}
		s := d.spans[i]
		if lo < s.lo {
			fn(lo, s.lo, false)
			lo = s.lo
		}
		end := min(s.hi, hi)
		fn(lo, end, true)
		lo = end
		i++
	}
}

// flushSubnormal returns 0 for x with |x| below the smallest normal float32.
// Optimizer state decays geometrically (m ← β·m) for parameters whose
// gradient is mostly zero — weights fed by always-blank pixels, say — and
// arithmetic on subnormal numbers costs a hundred cycles or more on x86
// without flush-to-zero, which Go does not enable. Flushing keeps every
// update at full speed and changes values by less than 1.2e-38. It tests
// the magnitude's bits, one comparison that almost never changes its
// outcome: two comparisons on the signed value branch on the sign, which
// for gradients is a coin toss the CPU mispredicts half the time (that
// made SGD with momentum ten times slower).
func flushSubnormal(x float32) float32 {
	if math.Float32bits(x)&0x7fffffff < 0x00800000 { // below 0x1p-126; NaN stays
		return 0
	}
	return x
}

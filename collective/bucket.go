package collective

import "context"

// Bucket is a run of consecutive tensors, tensors[First:End], fused into one
// buffer of Len elements for a single collective call.
type Bucket struct {
	First, End int
	Len        int
}

// PlanBuckets groups consecutive tensors of the given sizes (in elements)
// into buckets of at most maxElems elements; a tensor larger than that gets a
// bucket of its own. Fusing many small tensors saves the fixed cost of one
// operation per tensor.
func PlanBuckets(sizes []int, maxElems int) []Bucket {
	var out []Bucket
	for i, s := range sizes {
		if n := len(out); n > 0 && out[n-1].End == i && out[n-1].Len+s <= maxElems {
			out[n-1].End++
			out[n-1].Len += s
			continue
		}
		out = append(out, Bucket{First: i, End: i + 1, Len: s})
	}
	return out
}

// AllReduceTensors allreduces many tensors by fusing them into buckets of at
// most bucketBytes, running the buckets' allreduces back to back in the
// background and copying the results back. Tensors already contiguous in
// one arena are better reduced directly, range by range.
func (c *Communicator) AllReduceTensors(ctx context.Context, tensors [][]float32, op Op, bucketBytes int) error {
	sizes := make([]int, len(tensors))
	for i, t := range tensors {
		sizes[i] = len(t)
	}
	buckets := PlanBuckets(sizes, max(1, bucketBytes/4))
	fused := make([][]float32, len(buckets))
	handles := make([]*Handle, len(buckets))
	for k, b := range buckets {
		if b.End-b.First == 1 {
			fused[k] = tensors[b.First]
		} else {
			buf := make([]float32, 0, b.Len)
			for _, t := range tensors[b.First:b.End] {
				buf = append(buf, t...)
			}
			fused[k] = buf
		}
		handles[k] = c.AllReduceAsync(ctx, fused[k], op)
	}
	var first error
	for k, b := range buckets {
		if err := handles[k].Wait(); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		if b.End-b.First > 1 {
			off := 0
			for _, t := range tensors[b.First:b.End] {
				off += copy(t, fused[k][off:])
			}
		}
	}
	return first
}

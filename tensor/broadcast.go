package tensor

import "fmt"

// maxRank bounds the number of dimensions broadcasting handles after
// adjacent compatible dimensions have been merged.
const maxRank = 16

// bcastPlan walks a "full" shape row by row and tells where each row reads
// two operands that were broadcast to that shape. Dimensions of size 1 are
// dropped and neighbours that both operands traverse the same way (both
// contiguous, or both repeated) are merged, so the common cases (same shape,
// bias over rows, per-channel scale) end with one or two dimensions.
type bcastPlan struct {
	rank   int // merged dimensions, outermost first; the last is the row
	size   [maxRank]int
	sa, sb [maxRank]int // element strides of the operands; 0 = repeated
}

// init builds the plan for operands of shapes a and b broadcast (numpy
// rules: trailing dimensions aligned, size-1 dimensions stretch) to full.
// It reports false when a shape does not broadcast.
func (p *bcastPlan) init(full, a, b []int) bool {
	r := len(full)
	if len(a) > r || len(b) > r || r > 4*maxRank {
		return false
	}
	var sa, sb [4 * maxRank]int
	if !bcastStrides(sa[:r], full, a) || !bcastStrides(sb[:r], full, b) {
		return false
	}
	p.rank = 0
	for i := 0; i < r; i++ {
		d := full[i]
		if d == 1 {
			continue
		}
		if k := p.rank - 1; k >= 0 && p.sa[k] == sa[i]*d && p.sb[k] == sb[i]*d {
			p.size[k] *= d
			p.sa[k], p.sb[k] = sa[i], sb[i]
			continue
		}
		if p.rank == maxRank {
			return false
		}
		p.size[p.rank], p.sa[p.rank], p.sb[p.rank] = d, sa[i], sb[i]
		p.rank++
	}
	if p.rank == 0 {
		p.rank, p.size[0], p.sa[0], p.sb[0] = 1, 1, 0, 0
	}
	return true
}

// bcastStrides writes into st the strides, in the frame of full, of an
// operand of shape op; repeated dimensions get stride 0.
func bcastStrides(st []int, full, op []int) bool {
	r, off := len(full), len(full)-len(op)
	stride := 1
	for i := r - 1; i >= 0; i-- {
		d := 1
		if i >= off {
			d = op[i-off]
		}
		switch {
		case d == full[i]:
			st[i] = stride
		case d == 1:
			st[i] = 0
		default:
			return false
		}
		stride *= d
	}
	return true
}

// rows returns the number of rows and the row length.
func (p *bcastPlan) rows() (rows, cols int) {
	rows = 1
	for k := 0; k < p.rank-1; k++ {
		rows *= p.size[k]
	}
	return rows, p.size[p.rank-1]
}

// each calls fn for rows [lo, hi) with the offsets of the row's first
// element in both operands and their strides within the row (0 or 1).
func (p *bcastPlan) each(lo, hi int, fn func(row, offA, offB int)) {
	outer := p.rank - 1
	var idx [maxRank]int
	offA, offB := 0, 0
	rem := lo
	for k := outer - 1; k >= 0; k-- {
		idx[k] = rem % p.size[k]
		rem /= p.size[k]
		offA += idx[k] * p.sa[k]
		offB += idx[k] * p.sb[k]
	}
	for row := lo; row < hi; row++ {
		fn(row, offA, offB)
		for k := outer - 1; k >= 0; k-- {
			idx[k]++
			offA += p.sa[k]
			offB += p.sb[k]
			if idx[k] < p.size[k] {
				break
			}
			offA -= idx[k] * p.sa[k]
			offB -= idx[k] * p.sb[k]
			idx[k] = 0
		}
	}
}

// panicBroadcast reports operands that do not broadcast to dst.
func panicBroadcast(op string, a, b, dst []int) {
	panic(fmt.Sprintf("tensor: %s: shapes %v and %v do not broadcast to %v", op, a, b, dst))
}

package data

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// epochStream is mixed into the second PCG seed so that epoch 0 of seed s and
// epoch s of seed 0 do not share a stream.
const epochStream = 0x9e3779b97f4a7c15

// Permutation returns a permutation of [0, n) that depends only on seed and
// epoch. It uses PCG from math/rand/v2, whose output is specified, and its
// own Fisher–Yates shuffle and bounded draw, so the result stays the same
// across Go versions and machines.
func Permutation(seed uint64, epoch, n int) []int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	rng := rand.NewPCG(seed, uint64(epoch)*epochStream+1)
	for i := n - 1; i > 0; i-- {
		j := boundedDraw(rng, uint64(i)+1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm
}

// boundedDraw returns a uniform value in [0, bound) by rejection sampling
// (Lemire's multiply-shift with the exact threshold).
func boundedDraw(rng *rand.PCG, bound uint64) int {
	threshold := -bound % bound
	for {
		hi, lo := bits.Mul64(rng.Uint64(), bound)
		if lo >= threshold {
			return int(hi)
		}
	}
}

// ShardIndices returns rank's shard of perm among world ranks: the elements
// at positions rank, rank+world, rank+2·world, … of the first
// len(perm) − len(perm) mod world positions. Shards are disjoint, every rank
// gets the same number of elements, and together they cover perm except its
// last len(perm) mod world elements (a different set each epoch when perm is
// reshuffled). rank outside [0, world) or world < 1 panics: validate user
// input with ValidateRank first.
func ShardIndices(perm []int, rank, world int) []int {
	mustRank(rank, world)
	per := len(perm) / world
	out := make([]int, per)
	for k := range out {
		out[k] = perm[k*world+rank]
	}
	return out
}

// ShardIndicesBySize returns rank's shard of perm when the ranks take
// batches of different sizes (workers of different speed): every step
// consumes one global batch of sum(batchSizes) consecutive elements of perm,
// of which rank takes batchSizes[rank] at offset sum(batchSizes[:rank]).
// Every rank therefore runs the same number of steps, len(perm) /
// sum(batchSizes); the remaining elements are left out of this epoch.
func ShardIndicesBySize(perm []int, rank int, batchSizes []int) []int {
	mustRank(rank, len(batchSizes))
	global, offset := 0, 0
	for r, b := range batchSizes {
		if b < 1 {
			panic(fmt.Sprintf("data: ShardIndicesBySize: batch size %d of rank %d", b, r))
		}
		if r < rank {
			offset += b
		}
		global += b
	}
	steps := len(perm) / global
	own := batchSizes[rank]
	out := make([]int, 0, steps*own)
	for s := range steps {
		start := s*global + offset
		out = append(out, perm[start:start+own]...)
	}
	return out
}

// ValidateRank returns an error unless 0 <= rank < world.
func ValidateRank(rank, world int) error {
	if world < 1 {
		return fmt.Errorf("data: world size %d: need at least 1 worker", world)
	}
	if rank < 0 || rank >= world {
		return fmt.Errorf("data: rank %d is outside [0, %d) for a world of %d workers", rank, world, world)
	}
	return nil
}

func mustRank(rank, world int) {
	if err := ValidateRank(rank, world); err != nil {
		panic(err.Error())
	}
}

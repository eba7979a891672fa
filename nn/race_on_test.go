//go:build race

package nn_test

// raceEnabled reports whether the race detector, which allocates on its
// own, is on.
const raceEnabled = true

// Package workers runs the parts of one parallel kernel call (a GEMM's
// rectangles of C, an elementwise op's row ranges, an optimizer's chunks
// of the parameter arena) on goroutines that live for the whole process.
//
// Handing work to a goroutine that sleeps costs a wake-up: on a virtual
// machine, tens of microseconds before it runs, as long as a whole part of
// a small GEMM. Go's scheduler adds to it, since a goroutine readied by the
// caller waits on the caller's processor until another one steals it. So
// after each part a worker keeps looking for the next call for a while
// (spinning, and yielding to other goroutines now and then) before it
// sleeps: in a training step, whose kernel calls follow each other closely,
// the workers find each call at once.
//
// The caller takes parts too, from the same counter as the workers: a call
// finishes even when no worker is awake to help, and parts are dealt out
// by who is free, not fixed in advance.
//
//	workers.Run(parts, threads, task) // task.RunPart(i) for i in [0, parts)
package workers

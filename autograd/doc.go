// Package autograd is shoal's define-by-run reverse-mode differentiation.
//
// A Tape records the operations of one forward pass; Backward walks them in
// reverse and accumulates gradients. Operations are methods of the tape, so
// the tape is the context of a forward pass the way a context.Context is the
// context of a request:
//
//	tape := autograd.NewTape(autograd.Training)
//	logits := model.Forward(tape, autograd.Constant(x))
//	loss := tape.SoftmaxCrossEntropy(logits, labels)
//	tape.Backward(loss)  // parameters' Grad now hold dLoss/dθ
//	tape.Reset()         // reuse every buffer for the next step
//
// Buffers: every tensor an operation produces comes from the tape's arena and
// stays valid until Reset. Because one training step asks for the same shapes
// in the same order as the last, the arena hands back the same buffers and a
// steady-state step allocates (almost) nothing. Copy anything you want to keep
// (Clone) before Reset.
//
// Modes: a tape made with NoGrad records nothing — use it for inference, where
// with Reset between calls a forward pass allocates nothing after warm-up. A
// nil *Tape is allowed too and computes eagerly with fresh allocations.
//
// Parameters: NewParam makes a leaf whose value and gradient are views into
// the flat arenas of a model (package nn). Gradients of parameters accumulate
// across Backward calls until the caller zeroes them. OnGradReady installs a
// hook that fires once per parameter during Backward, as soon as no remaining
// operation can add to its gradient — the distributed strategies start
// communicating from it while backward is still running.
//
// Every operation's gradient is checked against finite differences of a
// float64 reference (see package autogradtest).
package autograd

// Package autogradtest checks gradients of shoal operations and layers.
//
// Check runs an operation in float32 on an autograd tape and a plain float64
// reference of the same function, then asserts that (1) the float32 forward
// agrees with the reference, and (2) the float32 analytic gradient agrees
// with central finite differences of the float64 reference — both within a
// relative tolerance (1e-4 by default, measured in the max norm). Because the
// finite differences are taken in float64, the check is sharp: a wrong
// backward formula fails by orders of magnitude, not by a hair.
package autogradtest

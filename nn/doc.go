// Package nn builds neural networks from layers whose parameters live in
// two flat arenas: every weight and bias of a model is a view into one
// contiguous []float32, and every gradient a view into another of the same
// length. Collective communication, parameter averaging, checkpoints and
// parameter-server shards then work on contiguous ranges without copies.
//
// A model is a stack of layers built for a per-example input shape:
//
//	m, err := nn.NewSequential([]int{784}, 1,
//		&nn.Dense{Units: 256}, &nn.ReLU{},
//		&nn.Dense{Units: 10})
//	tape := autograd.NewTape(autograd.Training)
//	loss := tape.SoftmaxCrossEntropy(m.Forward(tape, autograd.Constant(x)), labels)
//	tape.Backward(loss) // gradients land in m.Grads()
//
// Build infers every layer's input shape from the previous layer's output,
// declares parameters in forward order and initialises them from a seeded
// random source, so the same seed gives the same model bit for bit. The
// arena keeps parameters in forward order; their gradients become final in
// reverse order during backward, so a suffix of the gradient arena is ready
// first — the bucket plans of the distributed strategies rely on this.
//
// Specs: a model can also be declared in YAML or JSON (see examples/ in the
// repository) with ParseSpec or LoadSpec, validated with errors that name
// the field path ("spec: layers[2].units: must be positive, got -3"), and
// built with Spec.Build into exactly the model the Go calls would build. A
// character model may say vocab: auto; the trainer sets it with SetVocab
// before Build.
//
// Weights files: SaveFile writes a model in the safetensors layout (an
// 8-byte header length, a JSON header naming each tensor's dtype, shape and
// byte range, then raw little-endian float32) with the spec embedded in
// the header's metadata, atomically; LoadFile rebuilds the model from it
// and predicts bit-identically.
//
// Layers: Dense, Conv2D, MaxPool2D, AvgPool2D, Flatten, Dropout, BatchNorm,
// Embedding, LSTM, GRU, TimeDistributed and the activations ReLU, LeakyReLU,
// Tanh, Sigmoid, Softmax and GELU. Losses: SoftmaxCrossEntropy, MSE,
// BinaryCrossEntropy.
package nn

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
// Layers: Dense, Conv2D, MaxPool2D, AvgPool2D, Flatten, Dropout, BatchNorm,
// Embedding, LSTM, GRU, TimeDistributed and the activations ReLU, LeakyReLU,
// Tanh, Sigmoid, Softmax and GELU. Losses: SoftmaxCrossEntropy, MSE,
// BinaryCrossEntropy.
package nn

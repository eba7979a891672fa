// Package train runs the training loop of shoal on one machine: a Trainer
// holds a model, an optimizer over the model's flat parameter arena, an
// optional learning-rate schedule, a loss and a reusable autograd tape, and
// turns batches from a data.Loader into optimizer steps.
//
// One step is structured so that the distributed strategies plug into it:
//
//	forward → loss → backward → ExchangeGrads hook → clip → optimizer step
//
// The tape is Reset at every step and hands back the same buffers, so a
// steady-state step allocates almost nothing. Dropout masks of step s come
// from (Options.Seed, s).
//
// Typical use:
//
//	model, _ := spec.Build()
//	opt, _ := optim.New("adam", model.NumParams(), optim.Config{LR: 1e-3})
//	tr, _ := train.New(model, train.Options{Optimizer: opt, Progress: show})
//	res, err := tr.Fit(ctx, trainLoader, testLoader, 5)
//	fmt.Println(res.Test.Accuracy, res.SamplesPerSec)
//
// Fit runs the epochs (the loader reshuffles per epoch), reports progress
// every Options.ProgressEvery steps and at every epoch end, and evaluates on
// the test loader at the end with a no-gradient tape. It returns the
// per-epoch history (loss, accuracy, samples/s) and the test metrics;
// samples/s counts training time only.
//
// Sequence models: with Options.BPTT > 0 a batch of sequences [N, T, ...]
// longer than BPTT steps is cut into chunks of BPTT steps, each its own
// forward, backward and update (truncated backpropagation through time).
// Layers that implement Stateful carry their state from chunk to chunk and
// from batch to batch; the trainer resets them at the start of every epoch
// and around evaluation. For character-level language models data.Text lays
// the text out so that consecutive batches continue every row's text.
//
// Determinism: the same seed, data order and thread count give bit-identical
// weights — the kernels reduce in a fixed order, the loader's shuffle and the
// dropout masks are seeded, and nothing iterates over a map.
//
// Distributed strategies: Options.Strategy hooks into every step
// (BeginStep, GradReady from the tape's gradient-ready hook, ExchangeGrads,
// Update, EndStep). NewAllReduce averages gradients over a
// collective.Communicator in buckets — contiguous ranges from the end of
// the gradient arena, which become final first — started while backward
// still runs; NewPS pulls parameters from and pushes gradient ranges to
// parameter servers (package ps), which run the optimizer; NewAverage
// averages parameters every K steps. The balance helpers split a global
// batch by measured worker speed and weight the gradient average by each
// worker's share. StepTimingLog and Timeline record per-step compute,
// communication, exposed wait and overlap, and a Chrome trace. Processes,
// rendezvous and wiring live in cmd/shoal (shoal coordinator, worker, ps,
// and train --workers N).
//
// Outputs of a run: MetricsLog writes the reports as JSON lines
// (metrics.jsonl) and Curves draws loss and accuracy against epochs as a PNG
// (curves.png, with gonum.org/v1/plot).
package train

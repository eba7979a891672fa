package train

import (
	"context"
	"fmt"
	"time"

	"github.com/shoal-dl/shoal/data"
)

// Progress is one report from Fit: either a point within an epoch (every
// Options.ProgressEvery steps) or, with EpochDone set, the end of an epoch.
// Loss and Accuracy are running means over the epoch so far.
type Progress struct {
	Epoch, Epochs  int // 1-based epoch and the number of epochs
	Batch, Batches int // batches done in this epoch and per epoch
	Step           int64
	Loss, Accuracy float64
	Examples       int     // examples trained on in this epoch so far
	SamplesPerSec  float64 // training throughput of this epoch so far
	LR             float64 // learning rate of the last step
	Elapsed, ETA   time.Duration
	EpochDone      bool
	Summary        *EpochMetrics // the epoch's summary when EpochDone
}

// EpochMetrics summarise one training epoch.
type EpochMetrics struct {
	Epoch         int     `json:"epoch"`
	Step          int64   `json:"step"`
	Loss          float64 `json:"loss"`
	Accuracy      float64 `json:"accuracy"`
	Examples      int     `json:"examples"`
	Seconds       float64 `json:"seconds"`
	SamplesPerSec float64 `json:"samples_per_sec"`
	LR            float64 `json:"lr"`
}

// Result is what Fit returns: the per-epoch history, the final test
// evaluation and the throughput of the whole run.
type Result struct {
	Epochs []EpochMetrics `json:"history"`
	// Test is the evaluation on the test loader after the last epoch (zero
	// when Fit got no test loader).
	Test Metrics `json:"test"`
	// Steps is the number of optimizer steps taken.
	Steps int64 `json:"steps"`
	// Examples and TrainSeconds cover the training passes only, so
	// SamplesPerSec excludes evaluation.
	Examples      int     `json:"examples"`
	TrainSeconds  float64 `json:"train_seconds"`
	SamplesPerSec float64 `json:"samples_per_sec"`
}

// Fit trains for epochs passes over trainLoader (epoch numbers given to the
// loader start at 0, so its shuffle differs per epoch) and then evaluates on
// testLoader when it is not nil. Stateful layers are reset at the start of
// every epoch. It returns the history so far with ctx's error when ctx is
// cancelled.
func (t *Trainer) Fit(ctx context.Context, trainLoader, testLoader *data.Loader, epochs int) (*Result, error) {
	if epochs < 1 {
		return nil, fmt.Errorf("train: Fit: epochs %d must be at least 1", epochs)
	}
	res := &Result{}
	batches := trainLoader.NumBatches()
	for e := range epochs {
		t.ResetState()
		var run StepStats
		start := time.Now()
		k := 0
		report := func(done bool) {
			if t.opts.Progress == nil && !done {
				return
			}
			el := time.Since(start)
			p := Progress{
				Epoch: e + 1, Epochs: epochs, Batch: k, Batches: batches, Step: t.step,
				Examples: run.Examples, LR: t.opt.LR(), Elapsed: el, EpochDone: done,
			}
			if run.Predictions > 0 {
				p.Loss = run.Loss / float64(run.Predictions)
				p.Accuracy = float64(run.Correct) / float64(run.Predictions)
			}
			if s := el.Seconds(); s > 0 {
				p.SamplesPerSec = float64(run.Examples) / s
			}
			if k > 0 && batches > k {
				p.ETA = time.Duration(float64(el) / float64(k) * float64(batches-k))
			}
			if done {
				m := EpochMetrics{
					Epoch: e + 1, Step: t.step, Loss: p.Loss, Accuracy: p.Accuracy,
					Examples: run.Examples, Seconds: el.Seconds(), SamplesPerSec: p.SamplesPerSec, LR: p.LR,
				}
				res.Epochs = append(res.Epochs, m)
				res.Examples += run.Examples
				res.TrainSeconds += el.Seconds()
				p.Summary = &m
			}
			if t.opts.Progress != nil {
				t.opts.Progress(p)
			}
		}
		for b, err := range trainLoader.Batches(ctx, e) {
			if err != nil {
				return t.finish(res), fmt.Errorf("train: epoch %d: %w", e+1, err)
			}
			st, err := t.Step(ctx, b)
			if err != nil {
				// Step's errors already name the package and the fix.
				return t.finish(res), fmt.Errorf("%w (epoch %d, batch %d)", err, e+1, k+1)
			}
			run.add(st)
			k++
			if k%t.opts.ProgressEvery == 0 && k < batches {
				report(false)
			}
		}
		if k == 0 {
			return t.finish(res), fmt.Errorf("train: epoch %d has no batches: the data set is smaller than one batch; use a smaller batch", e+1)
		}
		report(true)
	}
	t.finish(res)
	if testLoader != nil {
		m, err := t.Evaluate(ctx, testLoader)
		if err != nil {
			return res, err
		}
		res.Test = m
	}
	return res, nil
}

func (t *Trainer) finish(res *Result) *Result {
	res.Steps = t.step
	if res.TrainSeconds > 0 {
		res.SamplesPerSec = float64(res.Examples) / res.TrainSeconds
	}
	return res
}

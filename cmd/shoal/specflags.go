package main

import (
	"github.com/shoal-dl/shoal/nn"
	"github.com/spf13/pflag"
)

// specOverrides are the command-line flags that override a spec's values;
// only the flags the user set apply.
type specOverrides struct {
	epochs, batch, bptt int
	lr, clipNorm        float64
	seed                uint64
}

// apply writes the flags set in fs into spec and fills the defaults a run
// needs (1 epoch, batch 32).
func (o *specOverrides) apply(fs *pflag.FlagSet, spec *nn.Spec) {
	if fs.Changed("epochs") {
		spec.Epochs = o.epochs
	}
	if fs.Changed("batch") {
		spec.Batch = o.batch
	}
	if fs.Changed("seed") {
		spec.Seed = o.seed
	}
	if fs.Lookup("clip-norm") != nil && fs.Changed("clip-norm") {
		spec.ClipNorm = o.clipNorm
	}
	if fs.Lookup("bptt") != nil && fs.Changed("bptt") {
		spec.BPTT = o.bptt
	}
	if fs.Changed("lr") {
		if spec.Optimizer == nil {
			spec.Optimizer = &nn.OptimizerSpec{Name: "sgd"}
		}
		spec.Optimizer.LR = o.lr
	}
	if spec.Epochs == 0 {
		spec.Epochs = 1
	}
	if spec.Batch == 0 {
		spec.Batch = 32
	}
}

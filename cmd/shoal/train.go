package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-dl/shoal/data"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
	"github.com/shoal-dl/shoal/tensor"
	"github.com/shoal-dl/shoal/train"
	"github.com/spf13/cobra"
)

// Files a training run writes into its output directory, besides the
// weights (nn.WeightsFile).
const (
	specFile    = "spec.json"
	metricsFile = "metrics.jsonl"
	curvesFile  = "curves.png"
	vocabFile   = "vocab.json"
	resultFile  = "result.json"
)

var trainFlags struct {
	spec, data, test, dataDir, out, label string
	epochs, batch, threads, bptt          int
	lr, clipNorm                          float64
	seed                                  uint64
	limit, progressEvery                  int
	jsonOut                               bool
	cpuProfile                            string
}

var trainCmd = &cobra.Command{
	Use:   "train --spec SPEC --data DATA --out DIR",
	Short: "Train a model from a spec on a dataset and save it",
	Long: `train builds the model that SPEC declares (YAML or JSON; see examples/), trains it
on DATA and evaluates it on the test split at the end.

DATA is one of
  fashion-mnist, mnist       a dataset by name (fetch it first: shoal data get NAME)
  csv:FILE                   numeric columns and a label column (--label)
  idx:IMAGES,LABELS          an IDX image file and label file of the MNIST family
  text:FILE                  any UTF-8 text, for character-level models (charlstm)

Named datasets use their test split for the final evaluation; other sources use
--test when given, else they hold out 10% (the end of a text).

The flags --epochs, --batch, --lr, --seed, --bptt and --clip-norm override the
spec's values; the spec saved in DIR records what the run used.

Progress goes to stderr: a bar per epoch with loss, accuracy, samples/s and
ETA on a terminal, plain lines otherwise. DIR receives
  model.safetensors   the weights, with the spec embedded (shoal model show DIR)
  spec.json           the spec as run
  metrics.jsonl       one JSON object per progress report, epoch and test
  curves.png          loss and accuracy against epochs
  vocab.json          the character vocabulary (text data only)
  result.json         the final summary (what --json prints)

With --threads T the kernels use T threads and the run is deterministic: the
same seed and thread count give bit-identical weights.`,
	Example: `  shoal data get fashion-mnist
  shoal train --spec examples/mlp.yaml --data fashion-mnist --out runs/mlp
  shoal train --spec examples/lenet.yaml --data fashion-mnist --epochs 5 --threads 2 --out runs/lenet --json
  shoal train --spec examples/charlstm.yaml --data text:input.txt --epochs 3 --out runs/chars
  shoal train --spec iris.yaml --data csv:iris.csv --label species --out runs/iris`,
	Args: cobra.NoArgs,
	RunE: runTrain,
}

func init() {
	f := trainCmd.Flags()
	f.StringVar(&trainFlags.spec, "spec", "", "model spec file, YAML or JSON (required)")
	f.StringVar(&trainFlags.data, "data", "", "training data: fashion-mnist, mnist, csv:FILE, idx:IMAGES,LABELS or text:FILE (required)")
	f.StringVar(&trainFlags.test, "test", "", "test data for csv:, idx: and text: sources (default: hold out 10%)")
	f.StringVar(&trainFlags.dataDir, "data-dir", "", "where named datasets are (default: the shoal data cache, then system directories)")
	f.StringVar(&trainFlags.out, "out", "", "output directory for weights, spec, metrics and curves (required)")
	f.StringVar(&trainFlags.label, "label", "-1", "csv: the label column, by header name or index (negative counts from the end)")
	f.IntVar(&trainFlags.epochs, "epochs", 0, "passes over the training data (default: the spec's, else 1)")
	f.IntVar(&trainFlags.batch, "batch", 0, "examples per step (default: the spec's, else 32)")
	f.Float64Var(&trainFlags.lr, "lr", 0, "learning rate (default: the spec's optimizer lr)")
	f.Uint64Var(&trainFlags.seed, "seed", 0, "seed of initialisation, shuffling and dropout (default: the spec's)")
	f.IntVar(&trainFlags.bptt, "bptt", 0, "truncated back-propagation length in steps for sequence models (default: the spec's)")
	f.Float64Var(&trainFlags.clipNorm, "clip-norm", 0, "clip the gradient's global L2 norm (default: the spec's; 0 = off)")
	f.IntVar(&trainFlags.threads, "threads", 0, "threads for the kernels (default: all cores)")
	f.IntVar(&trainFlags.limit, "limit", 0, "train on the first N examples only (0 = all); for quick trials")
	f.IntVar(&trainFlags.progressEvery, "progress-every", 0, "steps between progress reports (default: about 20 per epoch)")
	f.BoolVar(&trainFlags.jsonOut, "json", false, "print one JSON object with the results on stdout")
	f.StringVar(&trainFlags.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	f.MarkHidden("cpuprofile")
	rootCmd.AddCommand(trainCmd)
}

// trainResult is what --json prints and result.json holds.
type trainResult struct {
	Model          string               `json:"model"`
	Data           string               `json:"data"`
	TestAccuracy   float64              `json:"test_accuracy"`
	TestLoss       float64              `json:"test_loss"`
	TestExamples   int                  `json:"test_examples"`
	TrainLoss      float64              `json:"train_loss"`
	TrainAccuracy  float64              `json:"train_accuracy"`
	SamplesPerSec  float64              `json:"samples_per_sec"`
	Epochs         int                  `json:"epochs"`
	Steps          int64                `json:"steps"`
	Batch          int                  `json:"batch"`
	Optimizer      string               `json:"optimizer"`
	LR             float64              `json:"lr"`
	Threads        int                  `json:"threads"`
	Params         int                  `json:"params"`
	Seconds        float64              `json:"seconds"`
	TrainSeconds   float64              `json:"train_seconds"`
	Out            string               `json:"out"`
	History        []train.EpochMetrics `json:"history,omitempty"` // in result.json; left out of --json
	HasTestResults bool                 `json:"has_test"`
}

func runTrain(cmd *cobra.Command, _ []string) error {
	fl := &trainFlags
	start := time.Now()
	switch {
	case fl.spec == "":
		return usageErrorf("train: --spec is required; for example --spec examples/mlp.yaml")
	case fl.data == "":
		return usageErrorf("train: --data is required; for example --data fashion-mnist")
	case fl.out == "":
		return usageErrorf("train: --out is required: the directory for the weights, metrics and curves")
	case fl.epochs < 0, fl.batch < 0, fl.bptt < 0, fl.limit < 0, fl.threads < 0, fl.progressEvery < 0:
		return usageErrorf("train: --epochs, --batch, --bptt, --limit, --threads and --progress-every must not be negative")
	case fl.lr < 0 || math.IsNaN(fl.lr) || math.IsInf(fl.lr, 0):
		return usageErrorf("train: --lr %g must be a positive number", fl.lr)
	case fl.clipNorm < 0 || math.IsNaN(fl.clipNorm) || math.IsInf(fl.clipNorm, 0):
		return usageErrorf("train: --clip-norm %g must be a positive number (0 = off)", fl.clipNorm)
	}
	threads := setThreads(fl.threads)
	src, err := parseDataSource(fl.data)
	if err != nil {
		return err
	}
	spec, err := nn.LoadSpec(fl.spec)
	if err != nil {
		return specUsageError(err)
	}
	over := specOverrides{epochs: fl.epochs, batch: fl.batch, bptt: fl.bptt, lr: fl.lr, clipNorm: fl.clipNorm, seed: fl.seed}
	over.apply(cmd.Flags(), spec)

	sets, err := loadTrainData(src, fl.test, fl.dataDir, fl.label, spec)
	if err != nil {
		return err
	}
	if fl.limit > 0 {
		sets.train = limitDataset(sets.train, fl.limit)
	}
	model, err := spec.Build()
	if err != nil {
		return specUsageError(err)
	}
	if err := checkDataFits(sets.train, model); err != nil {
		return err
	}
	trainDS, err := fitInput(sets.train, model.InputShape)
	if err != nil {
		return err
	}
	testDS := sets.test
	if testDS != nil {
		if testDS, err = fitInput(testDS, model.InputShape); err != nil {
			return err
		}
	}

	opt, schedule, err := newOptimizer(spec, model, threads)
	if err != nil {
		return err
	}
	loss, err := spec.LossFunc()
	if err != nil {
		return specUsageError(err)
	}
	sequential := sets.vocab != nil // keep the text's order for stateful layers
	trainLoader, err := data.NewLoader(trainDS, data.LoaderOptions{
		BatchSize: spec.Batch, Shuffle: !sequential, Seed: spec.Seed, Prefetch: 2, DropLast: sequential,
	})
	if err != nil {
		return usageErrorf("train: %v", err)
	}
	if trainLoader.NumBatches() == 0 {
		return usageErrorf("train: %d training examples do not fill one batch of %d; use a smaller --batch", trainDS.Len(), spec.Batch)
	}
	var testLoader *data.Loader
	if testDS != nil {
		evalBatch := max(spec.Batch, 256)
		if sequential {
			evalBatch = testDS.(*data.Text).Rows()
		}
		if testLoader, err = data.NewLoader(testDS, data.LoaderOptions{BatchSize: evalBatch, Prefetch: 2, DropLast: sequential}); err != nil {
			return usageErrorf("train: test data: %v", err)
		}
	}

	if err := os.MkdirAll(fl.out, 0o755); err != nil {
		return usageErrorf("train: cannot create the output directory: %v; choose another --out", err)
	}
	metricsF, err := os.Create(filepath.Join(fl.out, metricsFile))
	if err != nil {
		return usageErrorf("train: %v; choose another --out", err)
	}
	defer metricsF.Close()
	mlog := train.NewMetricsLog(metricsF)
	var curves train.Curves

	every := fl.progressEvery
	stderr := cmd.ErrOrStderr()
	bar := newProgressBar(stderr)
	if every == 0 {
		every = max(1, trainLoader.NumBatches()/20)
		if bar.terminal {
			every = max(1, trainLoader.NumBatches()/200)
		}
	}
	var logErr error
	tr, err := train.New(model, train.Options{
		Optimizer: opt, Schedule: schedule, Loss: loss, ClipNorm: spec.ClipNorm,
		BPTT: spec.BPTT, Seed: spec.Seed, ProgressEvery: every,
		Progress: func(p train.Progress) {
			bar.show(p)
			curves.Add(p)
			if err := mlog.Progress(p); err != nil && logErr == nil {
				logErr = err
			}
		},
	})
	if err != nil {
		return err
	}

	if fl.cpuProfile != "" {
		pf, err := os.Create(fl.cpuProfile)
		if err != nil {
			return usageErrorf("train: --cpuprofile: %v", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("train: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	fmt.Fprintf(stderr, "training %s (%d parameters) on %s: %d examples, %d batches of %d, %d epochs, %d threads\n",
		specName(spec, fl.spec), model.NumParams(), fl.data, trainDS.Len(), trainLoader.NumBatches(), spec.Batch, spec.Epochs, threads)
	res, err := tr.Fit(cmd.Context(), trainLoader, testLoader, spec.Epochs)
	if err != nil {
		if errors.Is(err, train.ErrNonFinite) {
			return usageErrorf("%v", err)
		}
		return err
	}
	if logErr != nil {
		return logErr
	}
	if testLoader != nil {
		curves.SetTest(res.Test)
		if err := mlog.Test(res.Test); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "test: loss %.4f, accuracy %.2f%% on %d examples\n", res.Test.Loss, 100*res.Test.Accuracy, res.Test.Examples)
	}

	if err := nn.SaveFile(filepath.Join(fl.out, nn.WeightsFile), spec, model); err != nil {
		return err
	}
	sj, err := spec.Marshal()
	if err != nil {
		return err
	}
	if err := train.WriteFileAtomic(filepath.Join(fl.out, specFile), sj); err != nil {
		return err
	}
	if sets.vocab != nil {
		vj, err := json.Marshal(sets.vocab)
		if err != nil {
			return err
		}
		if err := train.WriteFileAtomic(filepath.Join(fl.out, vocabFile), append(vj, '\n')); err != nil {
			return err
		}
	}
	if err := curves.WritePNG(filepath.Join(fl.out, curvesFile)); err != nil {
		return err
	}
	if err := metricsF.Sync(); err != nil {
		return fmt.Errorf("train: %w", err)
	}

	last := res.Epochs[len(res.Epochs)-1]
	out := trainResult{
		Model: specName(spec, fl.spec), Data: fl.data,
		TestAccuracy: res.Test.Accuracy, TestLoss: res.Test.Loss, TestExamples: res.Test.Examples,
		HasTestResults: testLoader != nil,
		TrainLoss:      last.Loss, TrainAccuracy: last.Accuracy,
		SamplesPerSec: res.SamplesPerSec, Epochs: len(res.Epochs), Steps: res.Steps,
		Batch: spec.Batch, Optimizer: optimizerName(spec), LR: opt.LR(),
		Threads: threads, Params: model.NumParams(),
		Seconds: time.Since(start).Seconds(), TrainSeconds: res.TrainSeconds,
		Out: fl.out, History: res.Epochs,
	}
	rj, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := train.WriteFileAtomic(filepath.Join(fl.out, resultFile), append(rj, '\n')); err != nil {
		return err
	}
	if fl.jsonOut {
		out.History = nil
		b, _ := json.Marshal(out)
		fmt.Fprintln(cmd.OutOrStdout(), string(b))
		return nil
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: test accuracy %.2f%%, %.0f samples/s, %d epochs in %.1fs; saved to %s\n",
		out.Model, 100*out.TestAccuracy, out.SamplesPerSec, out.Epochs, out.Seconds, fl.out)
	return nil
}

// setThreads applies --threads to the kernels and the Go scheduler and
// returns the thread count in effect.
func setThreads(n int) int {
	if n > 0 {
		runtime.GOMAXPROCS(n)
	}
	tensor.SetThreads(n)
	return tensor.Threads()
}

// specUsageError turns a spec problem into a one-line usage error.
func specUsageError(err error) error {
	if errors.Is(err, nn.ErrInvalidSpec) || errors.Is(err, os.ErrNotExist) || errors.Is(err, nn.ErrShape) {
		return usageErrorf("%v; fix the spec (shoal model show SPEC checks it)", oneLine(err))
	}
	return usageErrorf("%v", oneLine(err))
}

// oneLine joins a multi-line error message into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

func specName(s *nn.Spec, path string) string {
	if s.Name != "" {
		return s.Name
	}
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

func optimizerName(s *nn.Spec) string {
	if s.Optimizer == nil {
		return "sgd"
	}
	return s.Optimizer.Name
}

// newOptimizer builds the spec's optimizer over the model's arena and its
// schedule.
func newOptimizer(spec *nn.Spec, model *nn.Model, threads int) (optim.Optimizer, optim.Schedule, error) {
	o := spec.Optimizer
	if o == nil {
		o = &nn.OptimizerSpec{Name: "sgd"}
	}
	cfg := optim.Config{
		LR: o.LR, Momentum: o.Momentum, Nesterov: o.Nesterov, Rho: o.Rho,
		Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay,
		Threads: threads,
	}
	if o.WeightDecay > 0 {
		cfg.DecayMask = model.DecayMask()
	}
	opt, err := optim.New(o.Name, model.NumParams(), cfg)
	if err != nil {
		return nil, nil, usageErrorf("spec: optimizer: %v", oneLine(err))
	}
	var schedule optim.Schedule
	if spec.Schedule != nil {
		if schedule, err = optim.ParseSchedule(spec.Schedule.String(), opt.LR()); err != nil {
			return nil, nil, usageErrorf("spec: schedule: %v", oneLine(err))
		}
	}
	return opt, schedule, nil
}

// dataSource is a parsed --data value.
type dataSource struct {
	kind  string // a dataset name, "csv", "idx" or "text"
	paths []string
}

func (d dataSource) String() string {
	if len(d.paths) == 0 {
		return d.kind
	}
	return d.kind + ":" + strings.Join(d.paths, ",")
}

// parseDataSource parses fashion-mnist, mnist, csv:FILE, idx:IMAGES,LABELS
// or text:FILE.
func parseDataSource(s string) (dataSource, error) {
	kind, rest, hasRest := strings.Cut(s, ":")
	switch kind {
	case "csv", "text":
		if rest == "" {
			return dataSource{}, usageErrorf("data: %q needs a file, as in %s:FILE", s, kind)
		}
		return dataSource{kind: kind, paths: []string{rest}}, nil
	case "idx":
		images, labels, ok := strings.Cut(rest, ",")
		if !ok || images == "" || labels == "" {
			return dataSource{}, usageErrorf("data: %q needs two files, as in idx:IMAGES,LABELS", s)
		}
		return dataSource{kind: kind, paths: []string{images, labels}}, nil
	}
	if !hasRest {
		if _, err := data.Lookup(kind); err == nil {
			return dataSource{kind: kind}, nil
		}
	}
	return dataSource{}, usageErrorf("data: unknown data %q; use one of %s, csv:FILE, idx:IMAGES,LABELS or text:FILE",
		s, strings.Join(data.KnownNames(), ", "))
}

// dataUsageError reports a data problem as a usage error: missing or
// malformed input is the user's to fix, and data's messages say how.
func dataUsageError(err error) error {
	return usageErrorf("%v", oneLine(err))
}

// dataSets are the data of one run.
type dataSets struct {
	train, test data.Dataset
	vocab       *data.Vocab // text data only
}

// loadTrainData loads the training data and the test data of a run. For
// text it also builds the vocabulary and fills it into the spec.
func loadTrainData(src dataSource, test, dir, label string, spec *nn.Spec) (*dataSets, error) {
	if src.kind == "text" {
		return loadTextData(src.paths[0], test, spec)
	}
	trainDS, err := loadClassData(src, "train", dir, label)
	if err != nil {
		return nil, err
	}
	switch {
	case test != "":
		tsrc, err := parseDataSource(test)
		if err != nil {
			return nil, err
		}
		testDS, err := loadClassData(tsrc, "test", dir, label)
		if err != nil {
			return nil, err
		}
		return &dataSets{train: trainDS, test: testDS}, nil
	case src.kind == "csv" || src.kind == "idx":
		tr, te := holdOut(trainDS, spec.Seed, 10)
		return &dataSets{train: tr, test: te}, nil
	}
	testDS, err := loadClassData(src, "test", dir, label)
	if err != nil {
		return nil, err
	}
	return &dataSets{train: trainDS, test: testDS}, nil
}

// loadClassData loads one split of a named dataset, a CSV file or an IDX
// pair.
func loadClassData(src dataSource, split, dir, label string) (*data.InMemory, error) {
	var ds *data.InMemory
	var err error
	switch src.kind {
	case "csv":
		ds, err = loadCSVFile(src.paths[0], label)
	case "idx":
		ds, err = data.LoadIDX(src.paths[0], src.paths[1])
	case "text":
		return nil, usageErrorf("data: text data has no class labels; use it with a character model such as examples/charlstm.yaml")
	default:
		ds, err = data.Open(src.kind, split, dir)
	}
	if err != nil {
		return nil, dataUsageError(err)
	}
	if ds.Len() == 0 {
		return nil, usageErrorf("data: %s has no examples", src)
	}
	return ds, nil
}

func loadCSVFile(path, label string) (*data.InMemory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w; check the path given as csv:FILE", err)
	}
	defer f.Close()
	opts := data.CSVOptions{Name: filepath.Base(path)}
	if i, err := strconv.Atoi(label); err == nil {
		opts.LabelIndex = i
	} else {
		opts.LabelName = label
	}
	return data.LoadCSV(f, opts)
}

// holdOut splits ds into a training part and a test part of pct percent,
// by a permutation drawn from seed, so that sorted files are split fairly.
func holdOut(ds *data.InMemory, seed uint64, pct int) (trainDS, testDS *data.InMemory) {
	n := ds.Len()
	nTest := max(1, n*pct/100)
	if n < 2 {
		return ds, ds
	}
	perm := data.Permutation(seed, -1, n)
	fv, tv := tensor.Volume(ds.FeatureShape()), tensor.Volume(ds.TargetShape())
	pick := func(idx []int) *data.InMemory {
		x, y := make([]float32, len(idx)*fv), make([]float32, len(idx)*tv)
		for k, i := range idx {
			ds.Read(i, x[k*fv:(k+1)*fv], y[k*tv:(k+1)*tv])
		}
		m, err := data.NewInMemory(x, ds.FeatureShape(), y, ds.TargetShape())
		if err != nil {
			panic(err) // shapes come from ds itself
		}
		return m
	}
	return pick(perm[nTest:]), pick(perm[:nTest])
}

// loadTextData reads a text file, builds its vocabulary (filled into the
// spec when it says vocab: auto) and lays the text out for truncated BPTT:
// sequences of bptt steps, one stream per batch row. The last 10% of the
// text (or --test) is the test text.
func loadTextData(path, test string, spec *nn.Spec) (*dataSets, error) {
	text, err := data.ReadTextFile(path)
	if err != nil {
		return nil, dataUsageError(err)
	}
	var testText string
	if test != "" {
		tsrc, err := parseDataSource(test)
		if err != nil {
			return nil, err
		}
		if tsrc.kind != "text" {
			return nil, usageErrorf("data: --test %q must be text:FILE like the training data", test)
		}
		if testText, err = data.ReadTextFile(tsrc.paths[0]); err != nil {
			return nil, dataUsageError(err)
		}
	} else {
		runes := []rune(text)
		cut := len(runes) - len(runes)/10
		text, testText = string(runes[:cut]), string(runes[cut:])
	}
	vocab := data.NewVocab(text + testText)
	if spec.Vocab == 0 {
		spec.SetVocab(vocab.Size())
	} else if int(spec.Vocab) < vocab.Size() {
		return nil, usageErrorf("data: the text has %d distinct characters but the spec's vocab is %d; set vocab: auto or at least %d", vocab.Size(), spec.Vocab, vocab.Size())
	}
	seqLen := spec.BPTT
	if seqLen == 0 {
		if in := spec.InputShape(); len(in) == 1 && in[0] > 0 {
			seqLen = in[0]
		} else {
			seqLen = 50
		}
		spec.BPTT = seqLen
	}
	if len(spec.Input) == 1 {
		// The model reads [T] token ids; T follows bptt.
		spec.Input = []nn.Size{nn.Size(seqLen)}
	}
	tokens, _ := vocab.Encode(text)
	trainDS, err := data.NewText(tokens, vocab.Size(), seqLen, spec.Batch)
	if err != nil {
		return nil, dataUsageError(err)
	}
	sets := &dataSets{train: trainDS, vocab: vocab}
	testTokens, _ := vocab.Encode(testText)
	rows := min(spec.Batch, max(1, (len(testTokens)-1)/seqLen))
	if testDS, err := data.NewText(testTokens, vocab.Size(), seqLen, rows); err == nil {
		sets.test = testDS
	}
	return sets, nil
}

// limitDataset returns the first n examples of ds.
func limitDataset(ds data.Dataset, n int) data.Dataset {
	if m, ok := ds.(*data.InMemory); ok && n < m.Len() {
		return m.Slice(0, n)
	}
	return ds
}

// checkDataFits reports a model whose classes cannot hold the data's
// labels before training starts.
func checkDataFits(ds data.Dataset, model *nn.Model) error {
	m, ok := ds.(*data.InMemory)
	if !ok || len(m.TargetShape()) != 0 {
		return nil
	}
	classes := m.NumClasses()
	out := model.OutputShape
	if classes > 0 && len(out) > 0 && out[len(out)-1] < classes {
		return usageErrorf("train: the data has %d classes but the model's output has %d; set the last layer's units to %d", classes, out[len(out)-1], classes)
	}
	return nil
}

// fitInput returns ds with features shaped as the model's input: the same
// data when the shapes agree, a reshaped view when only the layout differs
// ([784] for [1, 28, 28]); a different number of values is a usage error.
func fitInput(ds data.Dataset, in []int) (data.Dataset, error) {
	fs := ds.FeatureShape()
	if slices.Equal(fs, in) {
		return ds, nil
	}
	if tensor.Volume(fs) != tensor.Volume(in) {
		return nil, usageErrorf("train: the data's examples have shape %v (%d values) but the spec's input is %v (%d values); set input: %s in the spec",
			fs, tensor.Volume(fs), in, tensor.Volume(in), shapeYAML(fs))
	}
	return reshaped{Dataset: ds, shape: slices.Clone(in)}, nil
}

func shapeYAML(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// reshaped presents a dataset's features in another shape of the same
// volume.
type reshaped struct {
	data.Dataset
	shape []int
}

func (r reshaped) FeatureShape() []int { return slices.Clone(r.shape) }

// progressBar draws Fit's reports on stderr: a bar redrawn in place on a
// terminal, one plain line per report otherwise.
type progressBar struct {
	w        io.Writer
	terminal bool
	lastDraw time.Time
}

func newProgressBar(w io.Writer) *progressBar {
	p := &progressBar{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (b *progressBar) show(p train.Progress) {
	stats := fmt.Sprintf("loss %.4f  acc %5.2f%%  %6.0f samples/s", p.Loss, 100*p.Accuracy, p.SamplesPerSec)
	if !b.terminal {
		if p.EpochDone {
			fmt.Fprintf(b.w, "epoch %d/%d done: %s  %s\n", p.Epoch, p.Epochs, stats, p.Elapsed.Round(100*time.Millisecond))
		} else {
			fmt.Fprintf(b.w, "epoch %d/%d  %d/%d  %s  ETA %s\n", p.Epoch, p.Epochs, p.Batch, p.Batches, stats, p.ETA.Round(time.Second))
		}
		return
	}
	if !p.EpochDone && time.Since(b.lastDraw) < 100*time.Millisecond {
		return
	}
	b.lastDraw = time.Now()
	const width = 30
	filled := 0
	if p.Batches > 0 {
		filled = width * p.Batch / p.Batches
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	if filled < width {
		bar = strings.Repeat("=", filled) + ">" + strings.Repeat(" ", width-filled-1)
	}
	tail := "ETA " + p.ETA.Round(time.Second).String()
	if p.EpochDone {
		tail = p.Elapsed.Round(100 * time.Millisecond).String()
	}
	fmt.Fprintf(b.w, "\repoch %d/%d [%s] %d/%d  %s  %s\x1b[K", p.Epoch, p.Epochs, bar, p.Batch, p.Batches, stats, tail)
	if p.EpochDone {
		fmt.Fprintln(b.w)
	}
}

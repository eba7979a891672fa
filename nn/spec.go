package nn

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalidSpec is matched (errors.Is) by every error that ParseSpec,
// Validate and Build return for a spec that cannot describe a model.
var ErrInvalidSpec = errors.New("spec: invalid")

// SpecError reports one problem of a spec: the field path in the spec's own
// names ("layers[2].units", "optimizer.lr") and what is wrong with it.
type SpecError struct {
	Path string // field path; empty for the document as a whole
	Msg  string // the problem, naming the value and what is allowed
}

func (e *SpecError) Error() string {
	if e.Path == "" {
		return "spec: " + e.Msg
	}
	return "spec: " + e.Path + ": " + e.Msg
}

// Is reports whether target is ErrInvalidSpec.
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

func specErrorf(path, format string, args ...any) error {
	return &SpecError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Spec declares a model and how to train it, as DL4J's
// MultiLayerConfiguration does: the per-example input shape, the layers,
// the loss, the optimizer and its schedule, and the run's seed, batch size
// and epochs. It is written in YAML or JSON (see ParseSpec) and builds the
// same model as the equivalent NewSequential call (see Build).
//
// Optimizer and schedule are plain data here; the trainer turns them into
// optim values (nn does not depend on optim).
type Spec struct {
	// Name labels the model in listings; optional.
	Name string `json:"name,omitempty"`
	// Input is the per-example input shape without the batch axis: [784],
	// [1, 28, 28], [T] token ids, or [T, F] features per step. An entry may
	// be VocabSize (the word "vocab") for one-hot inputs over a vocabulary.
	Input []Size `json:"input"`
	// Vocab is the vocabulary size of sequence models; 0 (written "auto")
	// means the trainer fills it in from the data with SetVocab before
	// Build. Sizes written "vocab" take this value.
	Vocab AutoSize `json:"vocab,omitempty"`
	// Layers are built in order; an Activation on a layer appends that
	// activation as a layer of its own.
	Layers []LayerSpec `json:"layers"`
	// Loss is softmax_cross_entropy (the default), mse or
	// binary_cross_entropy.
	Loss string `json:"loss,omitempty"`
	// Optimizer configures the parameter update; nil means SGD with the
	// optimizer package's defaults.
	Optimizer *OptimizerSpec `json:"optimizer,omitempty"`
	// Schedule varies the learning rate over steps; nil means constant.
	Schedule *ScheduleSpec `json:"schedule,omitempty"`
	// ClipNorm clips the global L2 norm of the gradient; 0 means no
	// clipping.
	ClipNorm float64 `json:"clip_norm,omitempty"`
	// Seed initialises the parameters (and the trainer's shuffling).
	Seed uint64 `json:"seed"`
	// Batch and Epochs are the trainer's defaults; 0 leaves them to the
	// command line.
	Batch  int `json:"batch,omitempty"`
	Epochs int `json:"epochs,omitempty"`
	// BPTT is the truncated back-propagation-through-time length of
	// sequence models, in steps; 0 means whole sequences.
	BPTT int `json:"bptt,omitempty"`
}

// LayerSpec declares one layer. Type selects the layer and the fields it
// reads; Validate rejects a field that the type does not use:
//
//	dense            units, init, bias, activation          Dense
//	conv2d           filters, kernel, stride, padding,      Conv2D
//	                 init, bias, activation
//	maxpool2d        kernel, stride, padding                MaxPool2D
//	avgpool2d        kernel, stride, padding                AvgPool2D
//	flatten          -                                      Flatten
//	dropout          rate                                   Dropout
//	batchnorm        momentum, eps                          BatchNorm
//	embedding        vocab, dim, init                       Embedding
//	lstm, gru        hidden, return_sequences, stateful,    LSTM, GRU
//	                 init
//	timedistributed  layer                                  TimeDistributed
//	leakyrelu        slope                                  LeakyReLU
//	relu, tanh, sigmoid, softmax, gelu                      the activations
//
// Zero fields mean the layer's defaults, as for the Go types.
type LayerSpec struct {
	Type string `json:"type"`
	// Units is the output width of dense.
	Units Size `json:"units,omitempty"`
	// Filters, Kernel, Stride and Padding shape conv2d; Kernel, Stride and
	// Padding shape the pooling windows (stride 0 means kernel).
	Filters int `json:"filters,omitempty"`
	Kernel  int `json:"kernel,omitempty"`
	Stride  int `json:"stride,omitempty"`
	Padding int `json:"padding,omitempty"`
	// Rate is dropout's fraction of zeroed inputs, in [0, 1).
	Rate float64 `json:"rate,omitempty"`
	// Slope is leakyrelu's slope for negative inputs (0 means 0.01).
	Slope float64 `json:"slope,omitempty"`
	// Hidden is the state width of lstm and gru; ReturnSequences keeps
	// every step's output ([T, Hidden]) instead of the last ([Hidden]);
	// Stateful carries the state from one batch to the next (truncated
	// BPTT).
	Hidden          int  `json:"hidden,omitempty"`
	ReturnSequences bool `json:"return_sequences,omitempty"`
	Stateful        bool `json:"stateful,omitempty"`
	// Vocab and Dim size embedding's table.
	Vocab Size `json:"vocab,omitempty"`
	Dim   int  `json:"dim,omitempty"`
	// Momentum and Eps tune batchnorm (0 means its defaults).
	Momentum float64 `json:"momentum,omitempty"`
	Eps      float64 `json:"eps,omitempty"`
	// Init names the weight initializer (see InitializerByName); empty
	// means the layer's default.
	Init string `json:"init,omitempty"`
	// Bias false drops the bias of dense and conv2d; nil means true.
	Bias *bool `json:"bias,omitempty"`
	// Activation appends an activation layer after dense or conv2d:
	// relu, leakyrelu, tanh, sigmoid, softmax, gelu, or linear (none).
	Activation string `json:"activation,omitempty"`
	// Layer is the layer that timedistributed applies at every step.
	Layer *LayerSpec `json:"layer,omitempty"`
}

// OptimizerSpec is the optimizer's configuration as data; the names and
// meanings are those of optim.Config. Zero fields mean the optimizer's
// defaults.
type OptimizerSpec struct {
	// Name is sgd, rmsprop, adam or adamw.
	Name        string  `json:"name"`
	LR          float64 `json:"lr,omitempty"`
	Momentum    float64 `json:"momentum,omitempty"`
	Nesterov    bool    `json:"nesterov,omitempty"`
	Beta1       float64 `json:"beta1,omitempty"`
	Beta2       float64 `json:"beta2,omitempty"`
	Eps         float64 `json:"eps,omitempty"`
	Rho         float64 `json:"rho,omitempty"`
	WeightDecay float64 `json:"weight_decay,omitempty"`
}

// OptimizerNames are the optimizer names a spec accepts, the names
// optim.New knows.
var OptimizerNames = []string{"sgd", "rmsprop", "adam", "adamw"}

// LossNames are the loss names a spec accepts.
var LossNames = []string{"softmax_cross_entropy", "mse", "binary_cross_entropy"}

// Size is a layer or input size: a positive number, or VocabSize, written
// "vocab", for the spec's vocabulary size.
type Size int

// VocabSize stands for the spec's Vocab in a Size.
const VocabSize Size = math.MinInt32

// UnmarshalJSON accepts a whole number or the string "vocab"; null
// leaves s alone.
func (s *Size) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var word string
	if json.Unmarshal(b, &word) == nil {
		if word != "vocab" {
			return fmt.Errorf("want a number or \"vocab\", got %q", word)
		}
		*s = VocabSize
		return nil
	}
	n, err := wholeNumber(b)
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// MarshalJSON writes VocabSize as "vocab" and any other size as a number.
func (s Size) MarshalJSON() ([]byte, error) {
	if s == VocabSize {
		return []byte(`"vocab"`), nil
	}
	return strconv.AppendInt(nil, int64(s), 10), nil
}

// resolve returns the size with VocabSize replaced by vocab.
func (s Size) resolve(vocab int) int {
	if s == VocabSize {
		return vocab
	}
	return int(s)
}

func (s Size) String() string {
	if s == VocabSize {
		return "vocab"
	}
	return strconv.Itoa(int(s))
}

// AutoSize is a size the trainer may fill in: 0, written "auto", until it
// is known.
type AutoSize int

// UnmarshalJSON accepts a whole number or the string "auto" (0); null
// leaves a alone.
func (a *AutoSize) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var word string
	if json.Unmarshal(b, &word) == nil {
		if word != "auto" {
			return fmt.Errorf("want a number or \"auto\", got %q", word)
		}
		*a = 0
		return nil
	}
	n, err := wholeNumber(b)
	if err != nil {
		return err
	}
	*a = AutoSize(n)
	return nil
}

// MarshalJSON writes 0 as "auto".
func (a AutoSize) MarshalJSON() ([]byte, error) {
	if a == 0 {
		return []byte(`"auto"`), nil
	}
	return strconv.AppendInt(nil, int64(a), 10), nil
}

// wholeNumber parses a JSON number that must be an integer of int32 range.
func wholeNumber(b []byte) (int64, error) {
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return 0, fmt.Errorf("want a whole number, got %s", b)
	}
	n, err := strconv.ParseInt(num.String(), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("want a whole number of at most %d, got %s", math.MaxInt32, num)
	}
	return n, nil
}

// ScheduleSpec is a learning-rate schedule as data. In a spec it is either
// the short form of optim.ParseSchedule ("cosine:total=10000,min=1e-5",
// "step:every=1000,gamma=0.5,warmup=100") or a mapping with the same keys
// and a kind. Zero fields mean optim's defaults. String gives the short
// form that the trainer hands to optim.ParseSchedule.
type ScheduleSpec struct {
	// Kind is constant, step or cosine.
	Kind string `json:"kind"`
	// Every and Gamma shape step decay (every Every steps, times Gamma;
	// Gamma 0 means 0.1).
	Every int64   `json:"every,omitempty"`
	Gamma float64 `json:"gamma,omitempty"`
	// Total and Min shape cosine annealing down to Min over Total steps.
	Total int64   `json:"total,omitempty"`
	Min   float64 `json:"min,omitempty"`
	// Warmup ramps the rate up linearly over its first Warmup steps,
	// starting from the fraction WarmupStart of the base rate.
	Warmup      int64   `json:"warmup,omitempty"`
	WarmupStart float64 `json:"warmup_start,omitempty"`
}

// String returns the short form, for example "step:every=1000,gamma=0.5".
func (s *ScheduleSpec) String() string {
	var kv []string
	add := func(k string, v string) { kv = append(kv, k+"="+v) }
	ff := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	if s.Every != 0 {
		add("every", strconv.FormatInt(s.Every, 10))
	}
	if s.Gamma != 0 {
		add("gamma", ff(s.Gamma))
	}
	if s.Total != 0 {
		add("total", strconv.FormatInt(s.Total, 10))
	}
	if s.Min != 0 {
		add("min", ff(s.Min))
	}
	if s.Warmup != 0 {
		add("warmup", strconv.FormatInt(s.Warmup, 10))
	}
	if s.WarmupStart != 0 {
		add("warmup_start", ff(s.WarmupStart))
	}
	if len(kv) == 0 {
		return s.Kind
	}
	return s.Kind + ":" + strings.Join(kv, ",")
}

// MarshalJSON writes the short form.
func (s *ScheduleSpec) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads the short form or a mapping.
func (s *ScheduleSpec) UnmarshalJSON(b []byte) error {
	var short string
	if json.Unmarshal(b, &short) == nil {
		return s.parse(short)
	}
	type plain ScheduleSpec // without the methods, so no recursion
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("want a schedule string such as \"cosine:total=1000\" or a mapping with kind: %v", err)
	}
	*s = ScheduleSpec(p)
	return nil
}

// parse reads the short form "kind[:key=value,...]".
func (s *ScheduleSpec) parse(short string) error {
	kind, rest, _ := strings.Cut(strings.TrimSpace(short), ":")
	*s = ScheduleSpec{Kind: kind}
	if rest == "" {
		return nil
	}
	seen := map[string]bool{}
	for _, pair := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return fmt.Errorf("%q in schedule %q is not key=value", pair, short)
		}
		if seen[k] {
			return fmt.Errorf("key %q given twice in schedule %q", k, short)
		}
		seen[k] = true
		var err error
		switch k {
		case "every":
			s.Every, err = strconv.ParseInt(v, 10, 64)
		case "total":
			s.Total, err = strconv.ParseInt(v, 10, 64)
		case "warmup":
			s.Warmup, err = strconv.ParseInt(v, 10, 64)
		case "gamma":
			s.Gamma, err = strconv.ParseFloat(v, 64)
		case "min":
			s.Min, err = strconv.ParseFloat(v, 64)
		case "warmup_start":
			s.WarmupStart, err = strconv.ParseFloat(v, 64)
		default:
			return fmt.Errorf("unknown key %q in schedule %q; keys: every, gamma, total, min, warmup, warmup_start", k, short)
		}
		if err != nil {
			return fmt.Errorf("%s=%s in schedule %q is not a number", k, v, short)
		}
	}
	return nil
}

// validate checks the schedule as optim.ParseSchedule would.
func (s *ScheduleSpec) validate(path string) error {
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	switch s.Kind {
	case "constant":
		if s.Every != 0 || s.Gamma != 0 || s.Total != 0 || s.Min != 0 {
			return specErrorf(path, "constant takes only warmup and warmup_start")
		}
	case "step":
		if s.Total != 0 || s.Min != 0 {
			return specErrorf(path, "step takes every, gamma, warmup and warmup_start, not total or min")
		}
		if s.Every < 1 {
			return specErrorf(path+".every", "must be >= 1, got %d", s.Every)
		}
		if s.Gamma != 0 && !(s.Gamma > 0 && s.Gamma <= 1) {
			return specErrorf(path+".gamma", "out of range (0, 1], got %g", s.Gamma)
		}
	case "cosine":
		if s.Every != 0 || s.Gamma != 0 {
			return specErrorf(path, "cosine takes total, min, warmup and warmup_start, not every or gamma")
		}
		if s.Total < 1 {
			return specErrorf(path+".total", "must be >= 1, got %d", s.Total)
		}
		if !(s.Min >= 0) || !finite(s.Min) {
			return specErrorf(path+".min", "must be finite and >= 0, got %g", s.Min)
		}
	default:
		return specErrorf(path+".kind", "unknown schedule %q; known: constant, step, cosine", s.Kind)
	}
	if s.Warmup < 0 {
		return specErrorf(path+".warmup", "must be >= 0, got %d", s.Warmup)
	}
	if s.WarmupStart != 0 && s.Warmup == 0 {
		return specErrorf(path+".warmup_start", "needs warmup")
	}
	if !(s.WarmupStart >= 0 && s.WarmupStart <= 1) {
		return specErrorf(path+".warmup_start", "out of range [0, 1], got %g", s.WarmupStart)
	}
	return nil
}

// MaxSpecSize caps the size of a spec document.
const MaxSpecSize = 1 << 20

// ParseSpec reads a spec written in YAML or JSON (JSON when the document
// starts with '{') and validates it. Unknown fields, values of the wrong
// type and invalid values are errors naming the field path, for example
// "spec: layers[2].units: must be positive, got -3".
//
// YAML is read with go.yaml.in/yaml/v3 (YAML 1.2 core schema). Anchors,
// aliases, explicit tags and several documents in one file are rejected:
// a spec is one plain document.
func ParseSpec(data []byte) (*Spec, error) {
	if len(data) > MaxSpecSize {
		return nil, specErrorf("", "document of %d bytes is larger than %d; a spec declares layers, not data", len(data), MaxSpecSize)
	}
	tree, err := decodeDocument(data)
	if err != nil {
		return nil, err
	}
	if tree == nil {
		return nil, specErrorf("", "empty document; a spec needs at least input and layers")
	}
	if err := checkTree(tree, reflect.TypeOf(Spec{}), ""); err != nil {
		return nil, err
	}
	canon, err := json.Marshal(tree)
	if err != nil {
		return nil, specErrorf("", "%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(canon))
	dec.DisallowUnknownFields()
	s := new(Spec)
	if err := dec.Decode(s); err != nil {
		return nil, specErrorf("", "%v", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// LoadSpec reads and parses the spec file at path.
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	s, err := ParseSpec(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Marshal returns the spec as indented JSON, which ParseSpec reads back
// to an equal spec (JSON is also YAML).
func (s *Spec) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	return append(b, '\n'), nil
}

// Hash returns the hex SHA-256 of the spec's canonical JSON (compact, in
// field order), so that workers can check they build the same model.
func (s *Spec) Hash() string {
	b, err := json.Marshal(s)
	if err != nil {
		// Every field of Spec marshals; only a programmer error gets here.
		panic(fmt.Sprintf("nn: Spec.Hash: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// SetVocab fills in the vocabulary size of a spec written with vocab:
// auto; the trainer calls it with the size of the text's alphabet before
// Build.
func (s *Spec) SetVocab(n int) { s.Vocab = AutoSize(n) }

// UsesVocab reports whether a size of the spec is written "vocab", so that
// Build needs Vocab to be set.
func (s *Spec) UsesVocab() bool {
	for _, d := range s.Input {
		if d == VocabSize {
			return true
		}
	}
	var uses func(l *LayerSpec) bool
	uses = func(l *LayerSpec) bool {
		return l.Units == VocabSize || l.Vocab == VocabSize || (l.Layer != nil && uses(l.Layer))
	}
	for i := range s.Layers {
		if uses(&s.Layers[i]) {
			return true
		}
	}
	return false
}

// InputShape returns the per-example input shape with "vocab" resolved.
func (s *Spec) InputShape() []int {
	in := make([]int, len(s.Input))
	for i, d := range s.Input {
		in[i] = d.resolve(int(s.Vocab))
	}
	return in
}

// LossFunc returns the spec's loss.
func (s *Spec) LossFunc() (Loss, error) {
	switch s.Loss {
	case "", "softmax_cross_entropy":
		return SoftmaxCrossEntropy{}, nil
	case "mse":
		return MSE{}, nil
	case "binary_cross_entropy":
		return BinaryCrossEntropy{}, nil
	}
	return nil, specErrorf("loss", "unknown loss %q; known: %s", s.Loss, strings.Join(LossNames, ", "))
}

// Validate checks every field without building the model and returns the
// first problem as a *SpecError naming the field path. Shape mismatches
// between layers are found by Build.
func (s *Spec) Validate() error {
	if s.Input == nil {
		return specErrorf("input", "missing; give the per-example shape, e.g. [784] or [1, 28, 28]")
	}
	for i, d := range s.Input {
		if d != VocabSize && d <= 0 {
			return specErrorf(fmt.Sprintf("input[%d]", i), "must be positive, got %d", d)
		}
	}
	if s.Vocab < 0 {
		return specErrorf("vocab", "must be positive or auto, got %d", s.Vocab)
	}
	if len(s.Layers) == 0 {
		return specErrorf("layers", "missing; a model needs at least one layer")
	}
	for i := range s.Layers {
		if err := s.Layers[i].validate(fmt.Sprintf("layers[%d]", i), false); err != nil {
			return err
		}
	}
	if _, err := s.LossFunc(); err != nil {
		return err
	}
	if o := s.Optimizer; o != nil {
		if err := o.validate("optimizer"); err != nil {
			return err
		}
	}
	if s.Schedule != nil {
		if err := s.Schedule.validate("schedule"); err != nil {
			return err
		}
	}
	switch {
	case !(s.ClipNorm >= 0) || math.IsInf(s.ClipNorm, 0):
		return specErrorf("clip_norm", "must be finite and >= 0, got %g", s.ClipNorm)
	case s.Batch < 0:
		return specErrorf("batch", "must not be negative, got %d", s.Batch)
	case s.Epochs < 0:
		return specErrorf("epochs", "must not be negative, got %d", s.Epochs)
	case s.BPTT < 0:
		return specErrorf("bptt", "must not be negative, got %d", s.BPTT)
	}
	return nil
}

func (o *OptimizerSpec) validate(path string) error {
	if !contains(OptimizerNames, o.Name) {
		if o.Name == "" {
			return specErrorf(path+".name", "missing; known: %s", strings.Join(OptimizerNames, ", "))
		}
		return specErrorf(path+".name", "unknown optimizer %q; known: %s", o.Name, strings.Join(OptimizerNames, ", "))
	}
	unit := func(field string, v float64) error {
		if !(v >= 0 && v < 1) {
			return specErrorf(path+"."+field, "out of range [0, 1), got %g", v)
		}
		return nil
	}
	nonNeg := func(field string, v float64) error {
		if !(v >= 0) || math.IsInf(v, 0) {
			return specErrorf(path+"."+field, "must be finite and >= 0, got %g", v)
		}
		return nil
	}
	for _, err := range []error{
		nonNeg("lr", o.LR), unit("momentum", o.Momentum), unit("beta1", o.Beta1),
		unit("beta2", o.Beta2), nonNeg("eps", o.Eps), unit("rho", o.Rho),
		nonNeg("weight_decay", o.WeightDecay),
	} {
		if err != nil {
			return err
		}
	}
	if o.Nesterov && o.Momentum == 0 {
		return specErrorf(path+".nesterov", "needs momentum > 0")
	}
	return nil
}

// layerType describes one layer type of a spec: the fields it reads
// besides type, and how it becomes layers.
type layerType struct {
	name   string
	fields []string
	// check validates the fields' values; path names the layer.
	check func(l *LayerSpec, path string) error
	// build returns the layers, with sizes "vocab" resolved to vocab.
	build func(l *LayerSpec, vocab int) ([]Layer, error)
}

// layerTypes lists the layer types a spec accepts, in the order error
// messages name them.
var layerTypes []*layerType

func init() {
	// Set here rather than in the declaration because timedistributed
	// builds its inner layer through the table.
	layerTypes = []*layerType{
		{name: "dense", fields: []string{"units", "init", "bias", "activation"},
			check: func(l *LayerSpec, path string) error {
				return checkSize(path+".units", l.Units)
			},
			build: func(l *LayerSpec, vocab int) ([]Layer, error) {
				init, _ := initByName(l.Init)
				return withActivation(&Dense{Units: l.Units.resolve(vocab), NoBias: noBias(l.Bias), Init: init}, l.Activation), nil
			}},
		{name: "conv2d", fields: []string{"filters", "kernel", "stride", "padding", "init", "bias", "activation"},
			check: func(l *LayerSpec, path string) error {
				return firstError(positive(path+".filters", l.Filters), positive(path+".kernel", l.Kernel),
					notNegative(path+".stride", l.Stride), notNegative(path+".padding", l.Padding))
			},
			build: func(l *LayerSpec, _ int) ([]Layer, error) {
				init, _ := initByName(l.Init)
				c := &Conv2D{Filters: l.Filters, Kernel: l.Kernel, Stride: l.Stride, Padding: l.Padding, NoBias: noBias(l.Bias), Init: init}
				return withActivation(c, l.Activation), nil
			}},
		{name: "maxpool2d", fields: []string{"kernel", "stride", "padding"}, check: checkPool,
			build: func(l *LayerSpec, _ int) ([]Layer, error) {
				return []Layer{&MaxPool2D{pool{Size: l.Kernel, Stride: l.Stride, Padding: l.Padding}}}, nil
			}},
		{name: "avgpool2d", fields: []string{"kernel", "stride", "padding"}, check: checkPool,
			build: func(l *LayerSpec, _ int) ([]Layer, error) {
				return []Layer{&AvgPool2D{pool{Size: l.Kernel, Stride: l.Stride, Padding: l.Padding}}}, nil
			}},
		{name: "flatten", build: func(*LayerSpec, int) ([]Layer, error) { return []Layer{Flatten{}}, nil }},
		{name: "dropout", fields: []string{"rate"},
			check: func(l *LayerSpec, path string) error {
				if !(l.Rate >= 0 && l.Rate < 1) {
					return specErrorf(path+".rate", "out of range [0, 1), got %g", l.Rate)
				}
				return nil
			},
			build: func(l *LayerSpec, _ int) ([]Layer, error) { return []Layer{&Dropout{Rate: float32(l.Rate)}}, nil }},
		{name: "batchnorm", fields: []string{"momentum", "eps"},
			check: func(l *LayerSpec, path string) error {
				if !(l.Momentum >= 0 && l.Momentum <= 1) {
					return specErrorf(path+".momentum", "out of range [0, 1], got %g", l.Momentum)
				}
				if !(l.Eps >= 0) || math.IsInf(l.Eps, 0) {
					return specErrorf(path+".eps", "must be finite and >= 0, got %g", l.Eps)
				}
				return nil
			},
			build: func(l *LayerSpec, _ int) ([]Layer, error) {
				return []Layer{&BatchNorm{Momentum: float32(l.Momentum), Eps: float32(l.Eps)}}, nil
			}},
		{name: "embedding", fields: []string{"vocab", "dim", "init"},
			check: func(l *LayerSpec, path string) error {
				return firstError(checkSize(path+".vocab", l.Vocab), positive(path+".dim", l.Dim))
			},
			build: func(l *LayerSpec, vocab int) ([]Layer, error) {
				init, _ := initByName(l.Init)
				return []Layer{&Embedding{Vocab: l.Vocab.resolve(vocab), Dim: l.Dim, Init: init}}, nil
			}},
		recurrentType("lstm"),
		recurrentType("gru"),
		{name: "timedistributed", fields: []string{"layer"},
			check: func(l *LayerSpec, path string) error {
				if l.Layer == nil {
					return specErrorf(path+".layer", "missing; give the layer to apply at every step, e.g. {type: dense, units: 10}")
				}
				return l.Layer.validate(path+".layer", true)
			},
			build: buildTimeDistributed},
		activationType("relu", func(*LayerSpec) Layer { return ReLU{} }),
		{name: "leakyrelu", fields: []string{"slope"},
			check: func(l *LayerSpec, path string) error {
				if math.IsNaN(l.Slope) || math.IsInf(l.Slope, 0) {
					return specErrorf(path+".slope", "must be finite, got %g", l.Slope)
				}
				return nil
			},
			build: func(l *LayerSpec, _ int) ([]Layer, error) { return []Layer{LeakyReLU{Slope: float32(l.Slope)}}, nil }},
		activationType("tanh", func(*LayerSpec) Layer { return Tanh{} }),
		activationType("sigmoid", func(*LayerSpec) Layer { return Sigmoid{} }),
		activationType("softmax", func(*LayerSpec) Layer { return Softmax{} }),
		activationType("gelu", func(*LayerSpec) Layer { return GELU{} }),
	}
}

func recurrentType(name string) *layerType {
	return &layerType{name: name, fields: []string{"hidden", "return_sequences", "stateful", "init"},
		check: func(l *LayerSpec, path string) error { return positive(path+".hidden", l.Hidden) },
		build: func(l *LayerSpec, _ int) ([]Layer, error) {
			init, _ := initByName(l.Init)
			if name == "gru" {
				return []Layer{&GRU{Hidden: l.Hidden, ReturnSequences: l.ReturnSequences, Stateful: l.Stateful, Init: init}}, nil
			}
			return []Layer{&LSTM{Hidden: l.Hidden, ReturnSequences: l.ReturnSequences, Stateful: l.Stateful, Init: init}}, nil
		}}
}

// buildTimeDistributed wraps the inner layer; an activation shorthand on
// the inner layer follows the wrapper, as activations take any shape.
func buildTimeDistributed(l *LayerSpec, vocab int) ([]Layer, error) {
	inner, err := lookupLayerType(l.Layer.Type).build(l.Layer, vocab)
	if err != nil {
		return nil, err
	}
	return append([]Layer{&TimeDistributed{Layer: inner[0]}}, inner[1:]...), nil
}

func activationType(name string, make func(*LayerSpec) Layer) *layerType {
	return &layerType{name: name, build: func(l *LayerSpec, _ int) ([]Layer, error) { return []Layer{make(l)}, nil }}
}

// activations maps the values of a layer's activation field to layers.
var activations = map[string]func() Layer{
	"relu": func() Layer { return ReLU{} }, "leakyrelu": func() Layer { return LeakyReLU{} },
	"tanh": func() Layer { return Tanh{} }, "sigmoid": func() Layer { return Sigmoid{} },
	"softmax": func() Layer { return Softmax{} }, "gelu": func() Layer { return GELU{} },
}

const activationList = "relu, leakyrelu, tanh, sigmoid, softmax, gelu, linear"

func withActivation(l Layer, activation string) []Layer {
	if f, ok := activations[activation]; ok {
		return []Layer{l, f()}
	}
	return []Layer{l}
}

func checkPool(l *LayerSpec, path string) error {
	return firstError(positive(path+".kernel", l.Kernel), notNegative(path+".stride", l.Stride),
		notNegative(path+".padding", l.Padding))
}

// LayerTypes returns the layer type names a spec accepts.
func LayerTypes() []string {
	names := make([]string, len(layerTypes))
	for i, t := range layerTypes {
		names[i] = t.name
	}
	return names
}

func lookupLayerType(name string) *layerType {
	for _, t := range layerTypes {
		if t.name == name {
			return t
		}
	}
	return nil
}

// validate checks one layer; inner is set for the layer inside
// timedistributed.
func (l *LayerSpec) validate(path string, inner bool) error {
	lt := lookupLayerType(l.Type)
	if lt == nil {
		if l.Type == "" {
			return specErrorf(path+".type", "missing; known: %s", strings.Join(LayerTypes(), ", "))
		}
		return specErrorf(path+".type", "unknown layer %q; known: %s", l.Type, strings.Join(LayerTypes(), ", "))
	}
	if inner && lt.name == "timedistributed" {
		return specErrorf(path+".type", "timedistributed cannot wrap timedistributed")
	}
	for _, f := range setFields(l) {
		if !contains(lt.fields, f) {
			known := "none besides type"
			if len(lt.fields) > 0 {
				known = strings.Join(lt.fields, ", ")
			}
			return specErrorf(path+"."+f, "not a field of %s (its fields: %s)", lt.name, known)
		}
	}
	if l.Init != "" {
		if _, ok := initByName(l.Init); !ok {
			return specErrorf(path+".init", "unknown initializer %q; known: xavier, xavier_uniform, xavier_normal, he, he_normal, he_uniform, zeros", l.Init)
		}
	}
	if l.Activation != "" && l.Activation != "linear" {
		if _, ok := activations[l.Activation]; !ok {
			return specErrorf(path+".activation", "unknown activation %q; known: %s", l.Activation, activationList)
		}
	}
	if lt.check != nil {
		return lt.check(l, path)
	}
	return nil
}

// setFields returns the JSON names of the fields of l, other than type,
// that hold a non-zero value.
func setFields(l *LayerSpec) []string {
	var names []string
	v := reflect.ValueOf(l).Elem()
	for i := 0; i < v.NumField(); i++ {
		name := jsonName(v.Type().Field(i))
		if name != "type" && !v.Field(i).IsZero() {
			names = append(names, name)
		}
	}
	return names
}

func initByName(name string) (Initializer, bool) {
	if name == "" {
		return nil, true
	}
	return InitializerByName(name)
}

func noBias(b *bool) bool { return b != nil && !*b }

func checkSize(path string, s Size) error {
	if s != VocabSize && s <= 0 {
		return specErrorf(path, "must be positive, got %d", s)
	}
	return nil
}

func positive(path string, n int) error {
	if n <= 0 {
		return specErrorf(path, "must be positive, got %d", n)
	}
	return nil
}

func notNegative(path string, n int) error {
	if n < 0 {
		return specErrorf(path, "must not be negative, got %d", n)
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// BuildLayers returns the layers the spec declares, in model order, and for
// each the index of the spec layer it comes from (an activation shorthand
// adds a layer). It resolves sizes written "vocab" and fails if the
// vocabulary is still auto.
func (s *Spec) BuildLayers() (layers []Layer, from []int, err error) {
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	if s.UsesVocab() && s.Vocab == 0 {
		return nil, nil, specErrorf("vocab", "is auto but sizes are written \"vocab\"; set vocab: N, or let the trainer fill it in from the data (Spec.SetVocab) before building")
	}
	for i := range s.Layers {
		l := &s.Layers[i]
		ls, err := lookupLayerType(l.Type).build(l, int(s.Vocab))
		if err != nil {
			return nil, nil, err
		}
		for range ls {
			from = append(from, i)
		}
		layers = append(layers, ls...)
	}
	return layers, from, nil
}

// Build validates the spec and builds its model: the layers in order,
// parameters laid out and initialised from Seed exactly as NewSequential
// does with the equivalent Go layers, so both give the same model bit for
// bit. A layer that cannot take its input's shape is reported with its
// spec index and both shapes, for example
// "spec: layers[3] (dense): input [64 7 7] ...".
func (s *Spec) Build() (*Model, error) {
	layers, from, err := s.BuildLayers()
	if err != nil {
		return nil, err
	}
	// Dry run on scratch parameters to name the failing spec layer; the
	// real build below declares every parameter again.
	shape := s.InputShape()
	for i, l := range layers {
		out, err := l.Build(shape, &Params{})
		if err != nil {
			j := from[i]
			return nil, specErrorf(fmt.Sprintf("layers[%d]", j), "%s with input %v: %v", s.Layers[j].Type, shape, err)
		}
		shape = out
	}
	layers, _, _ = s.BuildLayers()
	m, err := NewSequential(s.InputShape(), s.Seed, layers...)
	if err != nil {
		return nil, specErrorf("layers", "%v", err)
	}
	return m, nil
}

// decodeDocument turns a YAML or JSON document into a tree of
// map[string]any, []any, string, json.Number, bool and nil.
func decodeDocument(data []byte) (any, error) {
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		var tree any
		if err := dec.Decode(&tree); err != nil {
			return nil, specErrorf("", "bad JSON: %v", err)
		}
		if dec.More() {
			return nil, specErrorf("", "bad JSON: data after the top-level object")
		}
		return tree, nil
	}
	return parseYAML(data)
}

// checkTree checks a decoded document against the Go type it will be
// decoded into, so that unknown fields and values of the wrong type are
// reported with their path in the spec.
func checkTree(v any, t reflect.Type, path string) error {
	if v == nil {
		return nil // null leaves the zero value
	}
	if t.Kind() == reflect.Pointer {
		return checkTree(v, t.Elem(), path)
	}
	if reflect.PointerTo(t).Implements(reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()) {
		if _, isMap := v.(map[string]any); !isMap || t.Kind() != reflect.Struct {
			b, err := json.Marshal(v)
			if err == nil {
				err = reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(b)
			}
			if err != nil {
				return specErrorf(path, "%v", err)
			}
			return nil
		}
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return specErrorf(path, "want a mapping, got %s", describe(v))
		}
		fields := map[string]reflect.Type{}
		var known []string
		for i := 0; i < t.NumField(); i++ {
			name := jsonName(t.Field(i))
			fields[name] = t.Field(i).Type
			known = append(known, name)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := joinPath(path, k)
			ft, ok := fields[k]
			if !ok {
				return specErrorf(p, "unknown field; known: %s", strings.Join(known, ", "))
			}
			if err := checkTree(m[k], ft, p); err != nil {
				return err
			}
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return specErrorf(path, "want a list, got %s", describe(v))
		}
		for i, e := range list {
			if err := checkTree(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return specErrorf(path, "want a string, got %s", describe(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return specErrorf(path, "want true or false, got %s", describe(v))
		}
	case reflect.Int, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return specErrorf(path, "want a whole number, got %s", describe(v))
		}
		if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
			return specErrorf(path, "want a whole number, got %s", n)
		}
	case reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			return specErrorf(path, "want a whole number >= 0, got %s", describe(v))
		}
		if _, err := strconv.ParseUint(n.String(), 10, 64); err != nil {
			return specErrorf(path, "want a whole number >= 0, got %s", n)
		}
	case reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			return specErrorf(path, "want a number, got %s", describe(v))
		}
		if _, err := strconv.ParseFloat(n.String(), 64); err != nil {
			return specErrorf(path, "want a finite number, got %s", n)
		}
	default:
		return specErrorf(path, "field of unsupported type %v", t) // a Spec field this walk does not know
	}
	return nil
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names a decoded value for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return "number " + v.String()
	case string:
		return strconv.Quote(v)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// YAML.

// maxYAMLDepth bounds nesting, so hostile input cannot exhaust the stack.
const maxYAMLDepth = 64

// parseYAML decodes a YAML document (go.yaml.in/yaml/v3) into the same tree
// as JSON decoding gives, so that both notations go through one checker.
// Anchors, aliases and explicit tags are refused: a model spec has no use
// for them and they make errors harder to read.
func parseYAML(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, specErrorf("", "%s", strings.Replace(err.Error(), "yaml: line", "yaml line", 1))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, specErrorf("", "yaml line %d: a second document; a spec is one document", extra.Line)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return yamlTree(doc.Content[0], 0)
}

func yamlErrorf(n *yaml.Node, format string, args ...any) error {
	return specErrorf("", "yaml line %d: %s", n.Line, fmt.Sprintf(format, args...))
}

// yamlTree converts a node into map[string]any, []any, string,
// json.Number, bool or nil.
func yamlTree(n *yaml.Node, depth int) (any, error) {
	if depth > maxYAMLDepth {
		return nil, yamlErrorf(n, "nested more than %d levels", maxYAMLDepth)
	}
	if n.Anchor != "" || n.Kind == yaml.AliasNode || n.Style&yaml.TaggedStyle != 0 {
		return nil, yamlErrorf(n, "anchors, aliases, tags are not supported in a spec")
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				return nil, yamlErrorf(k, "keys must be plain names")
			}
			if _, dup := m[k.Value]; dup {
				return nil, yamlErrorf(k, "key %q repeated", k.Value)
			}
			v, err := yamlTree(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlTree(c, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, yamlErrorf(n, "%v", err)
			}
			return b, nil
		case "!!int":
			i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
			if err != nil {
				return nil, yamlErrorf(n, "number %q out of range", n.Value)
			}
			return json.Number(strconv.FormatInt(i, 10)), nil
		case "!!float":
			f, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, yamlErrorf(n, "number %q is not finite", n.Value)
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
		}
		return n.Value, nil
	}
	return nil, yamlErrorf(n, "unsupported YAML node")
}

// LayerSummary describes one layer of a built model, for listings such as
// `shoal model show`.
type LayerSummary struct {
	Index  int    `json:"index"`
	Type   string `json:"type"`   // "Dense", "TimeDistributed(Dense)"
	Output []int  `json:"output"` // per-example output shape
	Params int    `json:"params"` // trainable values
	// Buffers counts non-trainable values (BatchNorm's statistics).
	Buffers int `json:"buffers,omitempty"`
}

// Summary lists m's layers with their output shapes and sizes.
func (m *Model) Summary() []LayerSummary {
	out := make([]LayerSummary, len(m.Layers))
	for i, l := range m.Layers {
		name := layerName(l)
		if td, ok := l.(*TimeDistributed); ok && td.Layer != nil {
			name += "(" + layerName(td.Layer) + ")"
		}
		out[i] = LayerSummary{Index: i, Type: name, Output: append([]int(nil), m.Shapes[i]...)}
	}
	// NewSequential names every parameter and buffer "<layer index>.".
	owner := func(name string) int {
		i, err := strconv.Atoi(name[:max(strings.IndexByte(name, '.'), 0)])
		if err != nil || i < 0 || i >= len(out) {
			return -1
		}
		return i
	}
	for _, p := range m.Params {
		if i := owner(p.Name); i >= 0 {
			out[i].Params += p.Value.Len()
		}
	}
	for _, b := range m.Buffers {
		if i := owner(b.Name); i >= 0 {
			out[i].Buffers += b.Value.Len()
		}
	}
	return out
}

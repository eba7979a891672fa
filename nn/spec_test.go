package nn_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
)

// TestExamplesParseAndBuild reads every spec of examples/ and builds it.
func TestExamplesParseAndBuild(t *testing.T) {
	paths, err := filepath.Glob("../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		out    []int
		params int
	}{
		"mlp.yaml":      {[]int{10}, 784*256 + 256 + 256*128 + 128 + 128*10 + 10},
		"lenet.yaml":    {[]int{10}, 3274634},
		"charlstm.yaml": {[]int{50, 65}, 65*64 + (64*800 + 200*800 + 800) + (200*800 + 200*800 + 800) + 200*65 + 65},
	}
	seen := 0
	for _, p := range paths {
		s, err := nn.LoadSpec(p)
		if err != nil {
			t.Errorf("LoadSpec(%s): %v", p, err)
			continue
		}
		if s.UsesVocab() {
			if _, err := s.Build(); !errors.Is(err, nn.ErrInvalidSpec) || !strings.Contains(err.Error(), "vocab") {
				t.Errorf("%s: Build before SetVocab = %v; want an error about vocab", p, err)
			}
			s.SetVocab(65)
		}
		m, err := s.Build()
		if err != nil {
			t.Errorf("%s: Build: %v", p, err)
			continue
		}
		total := 0
		for _, l := range m.Summary() {
			total += l.Params
		}
		if total != m.NumParams() {
			t.Errorf("%s: Summary counts %d parameters; the model has %d", p, total, m.NumParams())
		}
		if w, ok := want[filepath.Base(p)]; ok {
			seen++
			if !slices.Equal(m.OutputShape, w.out) || m.NumParams() != w.params {
				t.Errorf("%s: output %v with %d parameters; want %v with %d", p, m.OutputShape, m.NumParams(), w.out, w.params)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d examples %v in %v", seen, len(want), want, paths)
	}
}

// sameModel fails unless a and b have the same parameters and buffers, in
// the same order, with the same names, shapes and bits.
func sameModel(t *testing.T, what string, a, b *nn.Model) {
	t.Helper()
	if len(a.Params) != len(b.Params) || len(a.Buffers) != len(b.Buffers) {
		t.Fatalf("%s: %d params and %d buffers; want %d and %d", what, len(a.Params), len(a.Buffers), len(b.Params), len(b.Buffers))
	}
	for i, p := range a.Params {
		q := b.Params[i]
		if p.Name != q.Name || !slices.Equal(p.Value.Shape, q.Value.Shape) || p.Offset != q.Offset || p.Decay != q.Decay {
			t.Errorf("%s: param %d is %s %v at %d; want %s %v at %d", what, i, p.Name, p.Value.Shape, p.Offset, q.Name, q.Value.Shape, q.Offset)
		}
	}
	for i, bf := range a.Buffers {
		if bf.Name != b.Buffers[i].Name || !slices.Equal(bf.Value.Shape, b.Buffers[i].Value.Shape) {
			t.Errorf("%s: buffer %d is %s %v; want %s %v", what, i, bf.Name, bf.Value.Shape, b.Buffers[i].Name, b.Buffers[i].Value.Shape)
		}
	}
	if !sameBits(a.Values(), b.Values()) || !sameBits(a.BufferValues(), b.BufferValues()) {
		t.Errorf("%s: initial values differ", what)
	}
	if !reflect.DeepEqual(a.Shapes, b.Shapes) {
		t.Errorf("%s: shapes %v; want %v", what, a.Shapes, b.Shapes)
	}
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestSpecBuildMatchesBuilder builds specs and the equivalent Go builder
// calls and compares the models bit for bit.
func TestSpecBuildMatchesBuilder(t *testing.T) {
	tests := []struct {
		name   string
		spec   string
		in     []int
		seed   uint64
		layers []nn.Layer
	}{
		{"mlp", `
input: [784]
seed: 7
layers:
  - {type: dense, units: 32, activation: relu, init: he_normal}
  - {type: dropout, rate: 0.5}
  - {type: dense, units: 10, bias: false}
  - {type: relu}
  - {type: gelu}
  - {type: tanh}
  - {type: leakyrelu, slope: 0.2}
  - {type: softmax}
`, []int{784}, 7, []nn.Layer{&nn.Dense{Units: 32, Init: nn.HeNormal}, nn.ReLU{}, &nn.Dropout{Rate: 0.5}, &nn.Dense{Units: 10, NoBias: true},
			nn.ReLU{}, nn.GELU{}, nn.Tanh{}, nn.LeakyReLU{Slope: 0.2}, nn.Softmax{}}},
		{"cnn", `
input: [3, 16, 16]
seed: 3
layers:
  - {type: conv2d, filters: 4, kernel: 3, padding: 1, activation: gelu}
  - {type: batchnorm, momentum: 0.2}
  - {type: maxpool2d, kernel: 2}
  - {type: conv2d, filters: 6, kernel: 3, stride: 2, bias: false, activation: leakyrelu}
  - {type: avgpool2d, kernel: 2, stride: 1}
  - {type: flatten}
  - {type: dense, units: 5, activation: softmax}
`, []int{3, 16, 16}, 3, []nn.Layer{
			&nn.Conv2D{Filters: 4, Kernel: 3, Padding: 1}, nn.GELU{}, &nn.BatchNorm{Momentum: 0.2}, nn.NewMaxPool2D(2, 0),
			&nn.Conv2D{Filters: 6, Kernel: 3, Stride: 2, NoBias: true}, nn.LeakyReLU{}, nn.NewAvgPool2D(2, 1),
			nn.Flatten{}, &nn.Dense{Units: 5}, nn.Softmax{}}},
		{"recurrent", `
input: [12]
vocab: 30
seed: 99
layers:
  - {type: embedding, vocab: vocab, dim: 8}
  - {type: gru, hidden: 6, return_sequences: true}
  - {type: lstm, hidden: 5, return_sequences: true, stateful: true}
  - type: timedistributed
    layer: {type: dense, units: vocab, activation: tanh}
  - {type: sigmoid}
`, []int{12}, 99, []nn.Layer{
			&nn.Embedding{Vocab: 30, Dim: 8}, &nn.GRU{Hidden: 6, ReturnSequences: true},
			&nn.LSTM{Hidden: 5, ReturnSequences: true, Stateful: true},
			&nn.TimeDistributed{Layer: &nn.Dense{Units: 30}}, nn.Tanh{}, nn.Sigmoid{}}},
	}
	for _, tc := range tests {
		s, err := nn.ParseSpec([]byte(tc.spec))
		if err != nil {
			t.Errorf("%s: ParseSpec: %v", tc.name, err)
			continue
		}
		got, err := s.Build()
		if err != nil {
			t.Errorf("%s: Build: %v", tc.name, err)
			continue
		}
		want, err := nn.NewSequential(tc.in, tc.seed, tc.layers...)
		if err != nil {
			t.Fatalf("%s: NewSequential: %v", tc.name, err)
		}
		sameModel(t, tc.name, got, want)
		for i := range want.Layers {
			if g, w := fmt.Sprintf("%T", got.Layers[i]), fmt.Sprintf("%T", want.Layers[i]); g != w {
				t.Errorf("%s: layer %d is %s; want %s", tc.name, i, g, w)
			}
			// Layers without parameters must agree in every setting.
			if reflect.ValueOf(want.Layers[i]).Kind() != reflect.Pointer && !reflect.DeepEqual(got.Layers[i], want.Layers[i]) {
				t.Errorf("%s: layer %d is %+v; want %+v", tc.name, i, got.Layers[i], want.Layers[i])
			}
		}
	}
}

// TestSpecErrors checks that each bad spec fails with a message naming the
// field and the problem.
func TestSpecErrors(t *testing.T) {
	const head = "input: [784]\nlayers:\n"
	tests := []struct {
		name, spec, want string
	}{
		{"empty", "", "spec: empty document"},
		{"no input", "layers: [{type: relu}]", "spec: input: missing"},
		{"no layers", "input: [4]", "spec: layers: missing"},
		{"negative input", "input: [1, -28, 28]\nlayers: [{type: flatten}]", "spec: input[1]: must be positive, got -28"},
		{"negative units", head + "  - {type: dense, units: 5}\n  - {type: relu}\n  - {type: dense, units: -3}", "spec: layers[2].units: must be positive, got -3"},
		{"unknown layer", head + "  - type: dense2", `spec: layers[0].type: unknown layer "dense2"; known: dense, conv2d, maxpool2d`},
		{"missing type", head + "  - units: 4", "spec: layers[0].type: missing; known: dense"},
		{"field of another type", head + "  - {type: maxpool2d, kernel: 2, units: 4}", "spec: layers[0].units: not a field of maxpool2d (its fields: kernel, stride, padding)"},
		{"unknown field", head + "  - {type: dense, unit: 4}", "spec: layers[0].unit: unknown field; known: type, units"},
		{"unknown top field", "input: [4]\nlayer: []", "spec: layer: unknown field; known: name, input"},
		{"string for number", head + "  - {type: dense, units: many}", `spec: layers[0].units: want a number or "vocab", got "many"`},
		{"fraction for int", head + "  - {type: conv2d, filters: 2.5, kernel: 3}", "spec: layers[0].filters: want a whole number, got 2.5"},
		{"number for string", "input: [4]\nname: 5\nlayers: [{type: relu}]", "spec: name: want a string, got number 5"},
		{"list for mapping", "input: [4]\nlayers: [{type: relu}]\noptimizer: [adam]", "spec: optimizer: want a mapping, got a list"},
		{"negative seed", "input: [4]\nlayers: [{type: relu}]\nseed: -1", "spec: seed: want a whole number >= 0, got -1"},
		{"dropout rate", head + "  - {type: dropout, rate: 1.5}", "spec: layers[0].rate: out of range [0, 1), got 1.5"},
		{"bad activation", head + "  - {type: dense, units: 3, activation: swish}", `spec: layers[0].activation: unknown activation "swish"`},
		{"bad init", head + "  - {type: dense, units: 3, init: lecun}", `spec: layers[0].init: unknown initializer "lecun"`},
		{"unknown optimizer", "input: [4]\nlayers: [{type: relu}]\noptimizer: {name: adagrad}", `spec: optimizer.name: unknown optimizer "adagrad"; known: sgd, rmsprop, adam, adamw`},
		{"momentum", "input: [4]\nlayers: [{type: relu}]\noptimizer: {name: sgd, momentum: 1.2}", "spec: optimizer.momentum: out of range [0, 1), got 1.2"},
		{"nesterov", "input: [4]\nlayers: [{type: relu}]\noptimizer: {name: sgd, nesterov: true}", "spec: optimizer.nesterov: needs momentum > 0"},
		{"loss", "input: [4]\nlayers: [{type: relu}]\nloss: hinge", `spec: loss: unknown loss "hinge"`},
		{"schedule kind", "input: [4]\nlayers: [{type: relu}]\nschedule: linear", `spec: schedule.kind: unknown schedule "linear"`},
		{"schedule every", "input: [4]\nlayers: [{type: relu}]\nschedule: step", "spec: schedule.every: must be >= 1, got 0"},
		{"schedule key", "input: [4]\nlayers: [{type: relu}]\nschedule: 'step:every=2,decay=3'", `spec: schedule: unknown key "decay"`},
		{"schedule mapping", "input: [4]\nlayers: [{type: relu}]\nschedule: {kind: cosine, total: 0}", "spec: schedule.total: must be >= 1, got 0"},
		{"clip", "input: [4]\nlayers: [{type: relu}]\nclip_norm: -1", "spec: clip_norm: must be finite and >= 0, got -1"},
		{"vocab word", "input: [4]\nvocab: some\nlayers: [{type: relu}]", `spec: vocab: want a number or "auto", got "some"`},
		{"timedistributed without layer", "input: [3, 4]\nlayers: [{type: timedistributed}]", "spec: layers[0].layer: missing"},
		{"timedistributed inner", "input: [3, 4]\nlayers: [{type: timedistributed, layer: {type: dense, units: 0}}]", "spec: layers[0].layer.units: must be positive, got 0"},
		{"yaml tab", "input: [4]\nlayers:\n\t- {type: relu}", "yaml line 3: found character that cannot start any token"},
		{"yaml duplicate", "input: [4]\ninput: [5]\nlayers: [{type: relu}]", `yaml line 2: key "input" repeated`},
		{"yaml anchor", "input: &a [4]\nlayers: [{type: relu}]", "anchors, aliases, tags"},
		{"yaml unclosed", "input: [4, 5\nlayers: [{type: relu}]", "yaml line 1: did not find expected ',' or ']'"},
		{"yaml indentation", "input: [4]\nlayers:\n  - {type: relu}\n    - {type: relu}", "yaml line 2: did not find expected '-' indicator"},
		{"yaml two documents", "input: [4]\n---\nlayers: []", "yaml line 2: a second document"},
		{"too large", strings.Repeat("# padding\n", nn.MaxSpecSize/10+1), "spec: document of 1048580 bytes is larger than 1048576"},
		{"json syntax", `{"input": [4], "layers": [}`, "spec: bad JSON"},
		{"json unknown", `{"input": [4], "layers": [{"type": "relu", "size": 3}]}`, "spec: layers[0].size: unknown field"},
	}
	for _, tc := range tests {
		_, err := nn.ParseSpec([]byte(tc.spec))
		if err == nil {
			t.Errorf("%s: ParseSpec succeeded; want error %q", tc.name, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ParseSpec error\n  %v\nwant it to contain\n  %s", tc.name, err, tc.want)
		}
		if !errors.Is(err, nn.ErrInvalidSpec) {
			t.Errorf("%s: error %v does not match ErrInvalidSpec", tc.name, err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q spans lines; want one line", tc.name, err)
		}
	}
}

// TestSpecBuildShapeErrors checks that shape mismatches name the spec
// layer and the shapes.
func TestSpecBuildShapeErrors(t *testing.T) {
	tests := []struct{ name, spec, want string }{
		{"conv on vector", "input: [784]\nlayers:\n  - {type: dense, units: 4, activation: relu}\n  - {type: conv2d, filters: 2, kernel: 3}",
			"spec: layers[1]: conv2d with input [4]: nn: shape mismatch: Conv2D needs [channels, height, width], got [4]"},
		{"kernel too big", "input: [1, 4, 4]\nlayers: [{type: conv2d, filters: 2, kernel: 7}]",
			"spec: layers[0]: conv2d with input [1 4 4]"},
		{"lstm on vector", "input: [8]\nlayers: [{type: lstm, hidden: 3}]", "spec: layers[0]: lstm with input [8]"},
	}
	for _, tc := range tests {
		s, err := nn.ParseSpec([]byte(tc.spec))
		if err != nil {
			t.Errorf("%s: ParseSpec: %v", tc.name, err)
			continue
		}
		_, err = s.Build()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, nn.ErrInvalidSpec) {
			t.Errorf("%s: Build error %v; want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestSpecRoundTrip checks that Marshal's output parses back to an equal
// spec with the same hash, and that the hash follows the content.
func TestSpecRoundTrip(t *testing.T) {
	paths, _ := filepath.Glob("../examples/*.yaml")
	paths = append(paths, "testdata/full.yaml")
	for _, p := range paths {
		s, err := nn.LoadSpec(p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Marshal()
		if err != nil {
			t.Fatalf("%s: Marshal: %v", p, err)
		}
		back, err := nn.ParseSpec(b)
		if err != nil {
			t.Fatalf("%s: ParseSpec(Marshal()): %v\n%s", p, err, b)
		}
		if !reflect.DeepEqual(s, back) {
			t.Errorf("%s: round trip changed the spec:\n%+v\n%+v", p, s, back)
		}
		if s.Hash() != back.Hash() || len(s.Hash()) != 64 {
			t.Errorf("%s: Hash %s after round trip %s", p, back.Hash(), s.Hash())
		}
		back.Seed++
		if s.Hash() == back.Hash() {
			t.Errorf("%s: Hash did not change with the seed", p)
		}
	}
}

// TestSpecJSONEqualsYAML parses the same spec in both notations.
func TestSpecJSONEqualsYAML(t *testing.T) {
	y, err := nn.LoadSpec("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	j, err := nn.LoadSpec("testdata/full.json")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(y, j) {
		t.Errorf("YAML and JSON specs differ:\n%+v\n%+v", y, j)
	}
	if y.Optimizer == nil || y.Optimizer.Name != "sgd" || y.Optimizer.Momentum != 0.9 || !y.Optimizer.Nesterov ||
		y.Schedule == nil || y.Schedule.String() != "cosine:total=1000,min=1e-05,warmup=10" || y.ClipNorm != 1 || y.BPTT != 0 {
		t.Errorf("testdata/full.yaml parsed to %+v, optimizer %+v, schedule %+v", y, y.Optimizer, y.Schedule)
	}
}

// TestYAMLSubset checks YAML decoding on the constructs specs use,
// comparing with the JSON the same document means.
func TestYAMLSubset(t *testing.T) {
	tests := []struct{ yaml, json string }{
		{"input: [1, 28, 28]\nlayers: [{type: relu}]", `{"input":[1,28,28],"layers":[{"type":"relu"}]}`},
		{"# comment\ninput:   # trailing\n  - 4\n  - +5\nlayers:\n- type: relu\n- type: 'dense'\n  units: 007\n",
			`{"input":[4,5],"layers":[{"type":"relu"},{"type":"dense","units":7}]}`},
		{"---\nname: \"a # not a comment\"\ninput: []\nlayers: [{type: relu}]\n...",
			`{"name":"a # not a comment","input":[],"layers":[{"type":"relu"}]}`},
		{"name: it''s\ninput: [4]\nlayers: [{type: relu}]", `{"name":"it''s","input":[4],"layers":[{"type":"relu"}]}`},
		{"name: 'it''s'\ninput: [4]\nlayers: [{type: relu}]", `{"name":"it's","input":[4],"layers":[{"type":"relu"}]}`},
		{"input: [4]\nlayers:\n  -\n    type: dropout\n    rate: .5\n", `{"input":[4],"layers":[{"type":"dropout","rate":0.5}]}`},
		{"input: [4]\nlayers: [{type: dense, units: 3, bias: False}]\noptimizer: {name: adam, lr: 1e-3, eps: 1.E-8}",
			`{"input":[4],"layers":[{"type":"dense","units":3,"bias":false}],"optimizer":{"name":"adam","lr":0.001,"eps":1e-8}}`},
		{"input: [4]\nlayers: [{type: relu}]\nschedule: step:every=10,gamma=0.5\nname: ~",
			`{"input":[4],"layers":[{"type":"relu"}],"schedule":"step:every=10,gamma=0.5"}`},
		{"\ufeffinput: [4]\r\nlayers: [{type: relu}]\r\n", `{"input":[4],"layers":[{"type":"relu"}]}`},
		{"input: [\n  4,\n]\nlayers: [\n  {type: dropout,   # comment\n   rate: 0.5},\n  {type: relu}]\nseed: 3",
			`{"input":[4],"layers":[{"type":"dropout","rate":0.5},{"type":"relu"}],"seed":3}`},
		{"input: [4]\nvocab:\nlayers: [{type: dropout, rate: ~}]", `{"input":[4],"vocab":null,"layers":[{"type":"dropout","rate":null}]}`},
	}
	for _, tc := range tests {
		got, err := nn.ParseSpec([]byte(tc.yaml))
		if err != nil {
			t.Errorf("ParseSpec(%q): %v", tc.yaml, err)
			continue
		}
		want, err := nn.ParseSpec([]byte(tc.json))
		if err != nil {
			t.Fatalf("ParseSpec(%s): %v", tc.json, err)
		}
		if !reflect.DeepEqual(got, want) {
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			t.Errorf("ParseSpec(%q) = %s; want %s", tc.yaml, gb, wb)
		}
	}
}

// TestScheduleMatchesOptim checks that the short form a ScheduleSpec
// writes is accepted by optim.ParseSchedule and means the same schedule
// as the text it was read from.
func TestScheduleMatchesOptim(t *testing.T) {
	for _, text := range []string{
		"constant", "constant:warmup=5,warmup_start=0.25", "step:every=100", "step:every=30,gamma=0.5",
		"cosine:total=1000", "cosine:total=1000,min=1e-05,warmup=10", "step: every = 7 , gamma = 0.3",
	} {
		s, err := nn.ParseSpec([]byte(fmt.Sprintf("input: [4]\nlayers: [{type: relu}]\nschedule: %q", text)))
		if err != nil {
			t.Errorf("schedule %q: %v", text, err)
			continue
		}
		want, err := optim.ParseSchedule(text, 0.1)
		if err != nil {
			t.Fatalf("optim.ParseSchedule(%q): %v", text, err)
		}
		got, err := optim.ParseSchedule(s.Schedule.String(), 0.1)
		if err != nil {
			t.Errorf("optim.ParseSchedule(%q) from %q: %v", s.Schedule.String(), text, err)
			continue
		}
		for _, step := range []int64{0, 3, 9, 10, 11, 99, 100, 250, 999, 5000} {
			if g, w := got.LR(step), want.LR(step); g != w {
				t.Errorf("schedule %q as %q: LR(%d) = %g; want %g", text, s.Schedule, step, g, w)
			}
		}
	}
}

// TestOptimizerNamesMatchOptim keeps the spec's optimizer names in step
// with the optimizers that exist.
func TestOptimizerNamesMatchOptim(t *testing.T) {
	if !slices.Equal(nn.OptimizerNames, optim.Names()) {
		t.Errorf("nn.OptimizerNames = %v; optim.Names() = %v", nn.OptimizerNames, optim.Names())
	}
}

// FuzzParseSpec checks that no input makes ParseSpec panic, and that what
// it accepts survives Marshal and ParseSpec unchanged.
func FuzzParseSpec(f *testing.F) {
	for _, pattern := range []string{"../examples/*.yaml", "testdata/*.yaml", "testdata/*.json"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("input: [4]\nlayers:\n- - - [a, {b: c}]\n"))
	f.Add([]byte(`{"input": [4], "layers": [{"type": "dense", "units": "vocab"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := nn.ParseSpec(data)
		if err != nil {
			if !errors.Is(err, nn.ErrInvalidSpec) {
				t.Fatalf("error %v does not match ErrInvalidSpec", err)
			}
			return
		}
		b, err := s.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := nn.ParseSpec(b)
		if err != nil {
			t.Fatalf("ParseSpec(Marshal()) = %v for\n%s", err, b)
		}
		if !reflect.DeepEqual(s, back) {
			t.Fatalf("round trip changed %+v into %+v", s, back)
		}
	})
}

// Parsing a spec and building its model; the spec's layers become the
// model's, with an activation shorthand adding a layer of its own.
func ExampleParseSpec() {
	spec, err := nn.ParseSpec([]byte(`
name: tiny
input: [1, 28, 28]
layers:
  - {type: flatten}
  - {type: dense, units: 32, activation: relu}
  - {type: dense, units: 10}
optimizer: {name: adam, lr: 0.001}
schedule: cosine:total=1000
seed: 1
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := spec.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range m.Summary() {
		fmt.Println(l.Index, l.Type, l.Output, l.Params)
	}
	fmt.Println(spec.Optimizer.Name, spec.Schedule)
	// Output:
	// 0 Flatten [784] 0
	// 1 Dense [32] 25120
	// 2 ReLU [32] 0
	// 3 Dense [10] 330
	// adam cosine:total=1000
}

// Validation errors name the field path and the problem.
func ExampleSpec_Validate() {
	_, err := nn.ParseSpec([]byte("input: [784]\nlayers:\n  - {type: dense, units: -3}\n"))
	fmt.Println(err)
	// Output: spec: layers[0].units: must be positive, got -3
}

// Saving a model with its spec and loading it back: the loaded model is
// rebuilt from the embedded spec and holds the same values.
func ExampleSaveFile() {
	spec, _ := nn.ParseSpec([]byte("input: [4]\nseed: 3\nlayers: [{type: dense, units: 2}]\n"))
	m, _ := spec.Build()
	dir, _ := os.MkdirTemp("", "weights")
	defer os.RemoveAll(dir)
	if err := nn.SaveFile(dir, spec, m); err != nil {
		fmt.Println(err)
		return
	}
	_, loaded, err := nn.LoadFile(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(slices.Equal(loaded.Values(), m.Values()), loaded.Params[0].Name, loaded.Params[0].Value.Shape)
	// Output: true 0.Dense.weight [4 2]
}

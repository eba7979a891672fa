package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/data"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/tensor"
	"github.com/spf13/cobra"
)

var predictFlags struct {
	model, input string
	limit        int
	jsonOut      bool
}

var predictCmd = &cobra.Command{
	Use:   "predict --model DIR --input FILE",
	Short: "Print the predicted class and probabilities of each example in a file",
	Long: `predict runs a trained model on the examples of FILE and prints, per example,
the most likely class and the probability of every class (softmax of the
outputs; sigmoid for binary cross-entropy models; the raw outputs for mse).

FILE is one of
  IDX     an image file of the MNIST family, gzip-compressed or raw; unsigned
          byte pixels are scaled to [0, 1] as in training
  CSV     one example per row, exactly as many numbers as the model's input
          has values; a header row is skipped
  JSON    an array of examples, each an array (nested arrays are flattened),
          a single example, or {"inputs": [...]}`,
	Example: `  shoal predict --model runs/mlp --input /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --limit 5
  shoal predict --model runs/iris --input flowers.csv --json
  echo '[[5.1, 3.5, 1.4, 0.2]]' > one.json && shoal predict --model runs/iris --input one.json`,
	Args: cobra.NoArgs,
	RunE: runPredict,
}

var sampleFlags struct {
	model, prime string
	length       int
	seed         uint64
	temperature  float64
}

var sampleCmd = &cobra.Command{
	Use:   "sample --model DIR --length N",
	Short: "Generate text with a character-level model (charlstm)",
	Long: `sample generates N characters with a character model trained by shoal train
on text:FILE. It feeds --prime (default: a newline, or the vocabulary's first
character) through the model, then repeatedly draws the next character from
the predicted distribution, sharpened or flattened by --temperature, and feeds
it back. Stateful recurrent layers carry their state from character to
character; other models see the last input-length characters each time.
The same --seed gives the same text.`,
	Example: `  shoal sample --model runs/chars --length 500
  shoal sample --model runs/chars --length 200 --prime "To be" --temperature 0.7 --seed 3`,
	Args: cobra.NoArgs,
	RunE: runSample,
}

func init() {
	f := predictCmd.Flags()
	f.StringVar(&predictFlags.model, "model", "", "directory (or weights file) written by shoal train (required)")
	f.StringVar(&predictFlags.input, "input", "", "examples to predict: an IDX, CSV or JSON file (required)")
	f.IntVar(&predictFlags.limit, "limit", 0, "predict only the first N examples (0 = all)")
	f.BoolVar(&predictFlags.jsonOut, "json", false, "print one JSON object per example")
	s := sampleCmd.Flags()
	s.StringVar(&sampleFlags.model, "model", "", "directory written by shoal train on text data (required)")
	s.IntVar(&sampleFlags.length, "length", 200, "characters to generate")
	s.Uint64Var(&sampleFlags.seed, "seed", 1, "seed of the sampling")
	s.StringVar(&sampleFlags.prime, "prime", "", "text to start from (default: a newline)")
	s.Float64Var(&sampleFlags.temperature, "temperature", 1, "divides the logits: below 1 is more conservative, above 1 more random")
	rootCmd.AddCommand(predictCmd, sampleCmd)
}

func runPredict(cmd *cobra.Command, _ []string) error {
	fl := &predictFlags
	if fl.input == "" {
		return usageErrorf("predict: --input is required: an IDX, CSV or JSON file of examples")
	}
	if fl.limit < 0 {
		return usageErrorf("predict: --limit %d must not be negative", fl.limit)
	}
	spec, model, err := loadModel(fl.model)
	if err != nil {
		return err
	}
	vol := tensor.Volume(model.InputShape)
	x, err := readExamples(fl.input, vol)
	if err != nil {
		return err
	}
	n := len(x) / vol
	if fl.limit > 0 && fl.limit < n {
		n = fl.limit
	}
	loss, err := spec.LossFunc()
	if err != nil {
		return specUsageError(err)
	}
	out := cmd.OutOrStdout()
	tape := autograd.NewTape(autograd.NoGrad)
	const chunk = 256
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		tape.Reset()
		in := tensor.FromData(x[lo*vol:hi*vol], append([]int{hi - lo}, model.InputShape...)...)
		y := model.Forward(tape, autograd.Constant(in)).Value
		per := y.Len() / (hi - lo)
		for k := range hi - lo {
			probs := toProbabilities(loss, y.Data[k*per:(k+1)*per])
			class := argmaxF(probs)
			if fl.jsonOut {
				b, _ := json.Marshal(struct {
					Index         int       `json:"index"`
					Class         int       `json:"class"`
					Probabilities []float32 `json:"probabilities"`
				}{lo + k, class, probs})
				fmt.Fprintln(out, string(b))
				continue
			}
			parts := make([]string, len(probs))
			for i, p := range probs {
				parts[i] = strconv.FormatFloat(float64(p), 'f', 4, 32)
			}
			fmt.Fprintf(out, "%d\tclass %d\tp=%.4f\t[%s]\n", lo+k, class, probs[class], strings.Join(parts, " "))
		}
	}
	return nil
}

// toProbabilities turns one example's outputs into what the loss treats
// them as: softmax probabilities, sigmoid probabilities or raw values.
func toProbabilities(loss nn.Loss, out []float32) []float32 {
	p := make([]float32, len(out))
	switch loss.(type) {
	case nn.SoftmaxCrossEntropy:
		m := out[argmaxF(out)]
		var sum float64
		for i, v := range out {
			e := math.Exp(float64(v - m))
			p[i] = float32(e)
			sum += e
		}
		for i := range p {
			p[i] = float32(float64(p[i]) / sum)
		}
	case nn.BinaryCrossEntropy:
		for i, v := range out {
			p[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	default:
		copy(p, out)
	}
	return p
}

func argmaxF(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// readExamples reads the examples of an IDX, CSV or JSON file as one flat
// slice of examples of vol values each.
func readExamples(path string, vol int) ([]float32, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("predict: %v; give an existing IDX, CSV or JSON file", err)
	}
	trimmed := bytes.TrimSpace(raw)
	var x []float32
	switch {
	case len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{'):
		x, err = parseJSONExamples(trimmed)
	case looksIDX(raw):
		x, err = readIDXExamples(path)
	default:
		x, err = parseCSVExamples(raw, vol)
	}
	if err != nil {
		return nil, err
	}
	if len(x) == 0 {
		return nil, usageErrorf("predict: %s holds no examples", path)
	}
	if len(x)%vol != 0 {
		return nil, usageErrorf("predict: %s holds %d values, not a whole number of examples of %d values (the model's input); check the file", path, len(x), vol)
	}
	return x, nil
}

// looksIDX reports whether b starts like an IDX file, raw (two zero bytes
// and a type code) or gzip-compressed.
func looksIDX(b []byte) bool {
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		return true
	}
	return len(b) >= 4 && b[0] == 0 && b[1] == 0 && b[2] >= 0x08 && b[2] <= 0x0e
}

func readIDXExamples(path string) ([]float32, error) {
	a, err := data.ReadIDXFile(path)
	if err != nil {
		return nil, usageErrorf("predict: %v", oneLine(err))
	}
	if a.Type == data.IDXUint8 {
		for i := range a.Data {
			a.Data[i] /= 255
		}
	}
	return a.Data, nil
}

func parseJSONExamples(b []byte) ([]float32, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, usageErrorf("predict: JSON input: %v", err)
	}
	if m, ok := doc.(map[string]any); ok {
		in, ok := m["inputs"]
		if !ok {
			return nil, usageErrorf(`predict: JSON input is an object without "inputs"; give an array of examples or {"inputs": [...]}`)
		}
		doc = in
	}
	var x []float32
	var walk func(v any, path string) error
	walk = func(v any, path string) error {
		switch v := v.(type) {
		case []any:
			for i, e := range v {
				if err := walk(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		case json.Number:
			f, err := v.Float64()
			if err != nil {
				return usageErrorf("predict: JSON input%s: %v", path, err)
			}
			x = append(x, float32(f))
		default:
			return usageErrorf("predict: JSON input%s is %T, not a number or an array", path, v)
		}
		return nil
	}
	if err := walk(doc, ""); err != nil {
		return nil, err
	}
	return x, nil
}

func parseCSVExamples(b []byte, vol int) ([]float32, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	var x []float32
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, usageErrorf("predict: CSV input: %v", err)
		}
		row := make([]float32, 0, len(rec))
		bad := -1
		for i, f := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
			if err != nil {
				bad = i
				break
			}
			row = append(row, float32(v))
		}
		if bad >= 0 {
			if line == 1 {
				continue // a header
			}
			return nil, usageErrorf("predict: CSV input line %d column %d: %q is not a number", line, bad+1, rec[bad])
		}
		if len(row) != vol {
			return nil, usageErrorf("predict: CSV input line %d has %d values but the model's input has %d; give features only, one example per row", line, len(row), vol)
		}
		x = append(x, row...)
	}
	return x, nil
}

func runSample(cmd *cobra.Command, _ []string) error {
	fl := &sampleFlags
	if fl.length < 0 {
		return usageErrorf("sample: --length %d must not be negative", fl.length)
	}
	if !(fl.temperature > 0) || math.IsInf(fl.temperature, 0) {
		return usageErrorf("sample: --temperature %g must be a positive number", fl.temperature)
	}
	_, model, err := loadModel(fl.model)
	if err != nil {
		return err
	}
	vocab, err := loadVocab(fl.model)
	if err != nil {
		return err
	}
	if len(model.InputShape) != 1 || model.OutputShape[len(model.OutputShape)-1] != vocab.Size() {
		return usageErrorf("sample: the model in %s reads %v and predicts %v, not characters of a %d-character vocabulary; train it on text:FILE with a character model (examples/charlstm.yaml)",
			fl.model, model.InputShape, model.OutputShape, vocab.Size())
	}
	prime := fl.prime
	if prime == "" {
		prime = "\n"
		if _, ok := vocab.ID('\n'); !ok {
			prime = string(vocab.Rune(0))
		}
	}
	ids, err := vocab.Encode(prime)
	if err != nil {
		return usageErrorf("sample: --prime: %v", oneLine(err))
	}
	text, err := generate(model, vocab, ids, fl.length, fl.seed, fl.temperature)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), prime+text)
	return nil
}

// generate draws length characters after the context ids. Stateful models
// get the context once and then one character per step; others get a
// window of the last input-length characters each step.
func generate(model *nn.Model, vocab *data.Vocab, ids []int32, length int, seed uint64, temperature float64) (string, error) {
	stateful := false
	for _, l := range model.Layers {
		switch l := l.(type) {
		case *nn.LSTM:
			stateful = l.Stateful
		case *nn.GRU:
			stateful = l.Stateful
		}
		if r, ok := l.(interface{ ResetState() }); ok {
			r.ResetState()
		}
	}
	window := model.InputShape[0]
	rng := rand.New(rand.NewPCG(seed, 0x5a3))
	tape := autograd.NewTape(autograd.NoGrad)
	context := append([]int32(nil), ids...)
	feed := context
	out := make([]int32, 0, length)
	probs := make([]float64, vocab.Size())
	for range length {
		if !stateful && len(feed) > window {
			feed = feed[len(feed)-window:]
		}
		x := tensor.New(1, len(feed))
		for i, id := range feed {
			x.Data[i] = float32(id)
		}
		tape.Reset()
		y := model.Forward(tape, autograd.Constant(x)).Value
		v := vocab.Size()
		last := y.Data[y.Len()-v:]
		next := drawNext(rng, last, probs, temperature)
		out = append(out, next)
		context = append(context, next)
		if stateful {
			feed = context[len(context)-1:]
		} else {
			feed = context
		}
	}
	return vocab.Decode(out), nil
}

// drawNext samples a token from softmax(logits/temperature).
func drawNext(rng *rand.Rand, logits []float32, probs []float64, temperature float64) int32 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v)/temperature)
	}
	var sum float64
	for i, v := range logits {
		probs[i] = math.Exp(float64(v)/temperature - m)
		sum += probs[i]
	}
	u := rng.Float64() * sum
	for i, p := range probs {
		u -= p
		if u < 0 {
			return int32(i)
		}
	}
	return int32(len(probs) - 1)
}

package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shoal-dl/shoal/nn"
)

var modelCmd = &cobra.Command{
	Use:   "model",
	Short: "Inspect model specs and saved models",
}

var modelShowFlags struct {
	json  bool
	vocab int
}

var modelShowCmd = &cobra.Command{
	Use:   "show SPEC|WEIGHTS|DIR",
	Short: "Print a model's layers, output shapes and parameter counts",
	Long: `show builds the model that a spec (YAML or JSON) declares and prints one row per
layer: its index, the spec layer it comes from, its type, its output shape with
the batch axis as N, and its number of trainable parameters; then the totals.

Given a weights file written by shoal train (safetensors with the spec embedded)
or the directory holding it, show reads the spec from the file.

A spec written with "vocab: auto" (a character model, say) gets its vocabulary
size from the training text; pass --vocab N to show it for N symbols.`,
	Example: `  shoal model show examples/lenet.yaml
  shoal model show --json runs/mlp
  shoal model show --vocab 65 examples/charlstm.yaml`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		return runModelShow(cmd.OutOrStdout(), args[0], modelShowFlags.vocab, modelShowFlags.json)
	},
}

func init() {
	modelShowCmd.Flags().BoolVar(&modelShowFlags.json, "json", false, "print one JSON object instead of a table")
	modelShowCmd.Flags().IntVar(&modelShowFlags.vocab, "vocab", 0, `vocabulary size for a spec written with "vocab: auto"`)
	modelCmd.AddCommand(modelShowCmd)
	rootCmd.AddCommand(modelCmd)
}

// modelSummary is what show prints with --json.
type modelSummary struct {
	Name     string            `json:"name,omitempty"`
	SpecHash string            `json:"spec_hash"`
	Input    []int             `json:"input"`
	Layers   []modelLayerShown `json:"layers"`
	Params   int               `json:"params"`
	Buffers  int               `json:"buffers"`
	Bytes    int               `json:"bytes"`
}

type modelLayerShown struct {
	nn.LayerSummary
	SpecLayer int `json:"spec_layer"`
}

func runModelShow(w io.Writer, path string, vocab int, asJSON bool) error {
	spec, err := readModelSpec(path)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if vocab < 0 {
		return usageErrorf("--vocab %d must be positive", vocab)
	}
	if vocab > 0 {
		spec.SetVocab(vocab)
	} else if spec.UsesVocab() && spec.Vocab == 0 {
		return usageErrorf("%s: the spec has vocab: auto, which training fills in from the text; pass --vocab N to show it for a vocabulary of N symbols", path)
	}
	m, err := spec.Build()
	if err != nil {
		return usageErrorf("%s: %v", path, err)
	}
	_, from, err := spec.BuildLayers()
	if err != nil {
		return usageErrorf("%s: %v", path, err)
	}
	sum := modelSummary{Name: spec.Name, SpecHash: spec.Hash(), Input: spec.InputShape()}
	for i, l := range m.Summary() {
		sum.Layers = append(sum.Layers, modelLayerShown{LayerSummary: l, SpecLayer: from[i]})
		sum.Params += l.Params
		sum.Buffers += l.Buffers
	}
	sum.Bytes = 4 * (sum.Params + sum.Buffers)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	name := sum.Name
	if name == "" {
		name = "model"
	}
	fmt.Fprintf(w, "%s: input %s, spec %s\n\n", name, batchShape(sum.Input), sum.SpecHash[:12])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "#\tspec\tlayer\toutput\tparams\t")
	for _, l := range sum.Layers {
		params := fmt.Sprint(l.Params)
		if l.Buffers > 0 {
			params += fmt.Sprintf(" (+%d fixed)", l.Buffers)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t\n", l.Index, l.SpecLayer, l.Type, batchShape(l.Output), params)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ntrainable parameters  %d\n", sum.Params)
	if sum.Buffers > 0 {
		fmt.Fprintf(w, "fixed values          %d (running statistics)\n", sum.Buffers)
	}
	fmt.Fprintf(w, "size                  %s (float32)\n", byteSize(sum.Bytes))
	return nil
}

// readModelSpec reads a spec file, or the spec embedded in a weights file
// or in the weights file of a directory.
func readModelSpec(path string) (*nn.Spec, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%v; give a spec file (such as examples/mlp.yaml), a weights file or a training output directory", err)
	}
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(path, nn.WeightsFile)); err != nil {
			return nil, fmt.Errorf("%s holds no %s; give a spec file, a weights file or a directory written by shoal train", path, nn.WeightsFile)
		}
		return nn.ReadFileSpec(path)
	}
	if looksLikeSafetensors(path) {
		return nn.ReadFileSpec(path)
	}
	return nn.LoadSpec(path)
}

// looksLikeSafetensors reports whether the file starts with a header
// length that fits the file and a JSON object, as weights files do; a
// text spec's first eight bytes read as a length far beyond its size.
func looksLikeSafetensors(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [9]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	n := binary.LittleEndian.Uint64(head[:8])
	return n+8 <= uint64(fi.Size()) && head[8] == '{'
}

// batchShape writes a per-example shape with the batch axis: [N, 1, 28, 28].
func batchShape(shape []int) string {
	var b bytes.Buffer
	b.WriteString("[N")
	for _, d := range shape {
		fmt.Fprintf(&b, ", %d", d)
	}
	b.WriteByte(']')
	return b.String()
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return strings.TrimSpace(fmt.Sprintf("%d B", n))
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shoal-dl/shoal/data"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/train"
	"github.com/spf13/cobra"
)

var evalFlags struct {
	model, data, split, dataDir, label string
	batch, threads                     int
	jsonOut                            bool
}

var evalCmd = &cobra.Command{
	Use:   "eval --model DIR --data DATA",
	Short: "Evaluate a trained model: mean loss and accuracy on a dataset",
	Long: `eval loads the model that shoal train saved in DIR (the weights file with its
embedded spec) and reports its mean loss and accuracy on DATA, which takes the
same forms as for train: fashion-mnist, mnist (the --split, test by default),
csv:FILE, idx:IMAGES,LABELS or text:FILE (text models read DIR/vocab.json).`,
	Example: `  shoal eval --model runs/mlp --data fashion-mnist
  shoal eval --model runs/mlp --data fashion-mnist --split train --json
  shoal eval --model runs/chars --data text:held-out.txt`,
	Args: cobra.NoArgs,
	RunE: runEval,
}

func init() {
	f := evalCmd.Flags()
	f.StringVar(&evalFlags.model, "model", "", "directory (or weights file) written by shoal train (required)")
	f.StringVar(&evalFlags.data, "data", "", "data: fashion-mnist, mnist, csv:FILE, idx:IMAGES,LABELS or text:FILE (required)")
	f.StringVar(&evalFlags.split, "split", "test", "split of a named dataset: train or test")
	f.StringVar(&evalFlags.dataDir, "data-dir", "", "where named datasets are (default: the shoal data cache, then system directories)")
	f.StringVar(&evalFlags.label, "label", "-1", "csv: the label column, by header name or index (negative counts from the end)")
	f.IntVar(&evalFlags.batch, "batch", 256, "examples per forward pass")
	f.IntVar(&evalFlags.threads, "threads", 0, "threads for the kernels (default: all cores)")
	f.BoolVar(&evalFlags.jsonOut, "json", false, "print one JSON object on stdout")
	rootCmd.AddCommand(evalCmd)
}

// loadModel loads a trained model from a run directory or weights file.
func loadModel(path string) (*nn.Spec, *nn.Model, error) {
	if path == "" {
		return nil, nil, usageErrorf("--model is required: the directory shoal train wrote (its --out)")
	}
	spec, model, err := nn.LoadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, usageErrorf("model: no %s in %s; train one with shoal train --out %s", nn.WeightsFile, path, path)
		}
		return nil, nil, usageErrorf("model: %v; train the model again", oneLine(err))
	}
	return spec, model, nil
}

// loadVocab reads the vocabulary a text model was trained with.
func loadVocab(dir string) (*data.Vocab, error) {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		dir = filepath.Dir(dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, vocabFile))
	if err != nil {
		return nil, usageErrorf("model: %v; a text model needs the %s that shoal train writes next to its weights", err, vocabFile)
	}
	v := new(data.Vocab)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, usageErrorf("model: %s: %v", vocabFile, err)
	}
	return v, nil
}

func runEval(cmd *cobra.Command, _ []string) error {
	fl := &evalFlags
	if fl.batch < 1 {
		return usageErrorf("eval: --batch %d must be at least 1", fl.batch)
	}
	if fl.data == "" {
		return usageErrorf("eval: --data is required; for example --data fashion-mnist")
	}
	setThreads(fl.threads)
	spec, model, err := loadModel(fl.model)
	if err != nil {
		return err
	}
	src, err := parseDataSource(fl.data)
	if err != nil {
		return err
	}
	var ds data.Dataset
	sequential := false
	if src.kind == "text" {
		vocab, err := loadVocab(fl.model)
		if err != nil {
			return err
		}
		text, err := data.ReadTextFile(src.paths[0])
		if err != nil {
			return dataUsageError(err)
		}
		tokens, err := vocab.Encode(text)
		if err != nil {
			return dataUsageError(err)
		}
		seqLen := max(spec.BPTT, 1)
		rows := min(fl.batch, max(1, (len(tokens)-1)/seqLen))
		if ds, err = data.NewText(tokens, vocab.Size(), seqLen, rows); err != nil {
			return dataUsageError(err)
		}
		fl.batch, sequential = rows, true
	} else {
		in, err := loadClassData(src, fl.split, fl.dataDir, fl.label)
		if err != nil {
			return err
		}
		if err := checkDataFits(in, model); err != nil {
			return err
		}
		if ds, err = fitInput(in, model.InputShape); err != nil {
			return err
		}
	}
	loss, err := spec.LossFunc()
	if err != nil {
		return specUsageError(err)
	}
	loader, err := data.NewLoader(ds, data.LoaderOptions{BatchSize: fl.batch, Prefetch: 2, DropLast: sequential})
	if err != nil {
		return usageErrorf("eval: %v", err)
	}
	m, err := train.Evaluate(cmd.Context(), model, loss, loader)
	if err != nil {
		return usageErrorf("eval: %v", oneLine(err))
	}
	if fl.jsonOut {
		b, _ := json.Marshal(struct {
			Model    string  `json:"model"`
			Data     string  `json:"data"`
			Loss     float64 `json:"loss"`
			Accuracy float64 `json:"accuracy"`
			Examples int     `json:"examples"`
			Seconds  float64 `json:"seconds"`
		}{specName(spec, fl.model), fl.data, m.Loss, m.Accuracy, m.Examples, m.Seconds})
		fmt.Fprintln(cmd.OutOrStdout(), string(b))
		return nil
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s on %s: loss %.4f, accuracy %.2f%% (%d examples, %.1fs)\n",
		specName(spec, fl.model), fl.data, m.Loss, 100*m.Accuracy, m.Examples, m.Seconds)
	return nil
}

package train

import (
	"encoding/json"
	"fmt"
	"io"
)

// Record is one line of a metrics log (metrics.jsonl): a point within an
// epoch ("step"), the end of an epoch ("epoch") or the final evaluation
// ("test").
type Record struct {
	Kind          string  `json:"kind"`
	Epoch         int     `json:"epoch,omitempty"`
	Batch         int     `json:"batch,omitempty"`
	Step          int64   `json:"step,omitempty"`
	Loss          float64 `json:"loss"`
	Accuracy      float64 `json:"accuracy"`
	Examples      int     `json:"examples"`
	Seconds       float64 `json:"seconds"`
	SamplesPerSec float64 `json:"samples_per_sec,omitempty"`
	LR            float64 `json:"lr,omitempty"`
}

// MetricsLog writes Records as JSON lines, one object per line, so that a
// run can be followed with tail -f and read back with any JSON tool.
type MetricsLog struct {
	enc *json.Encoder
}

// NewMetricsLog returns a log writing to w.
func NewMetricsLog(w io.Writer) *MetricsLog {
	return &MetricsLog{enc: json.NewEncoder(w)}
}

// Write appends one record.
func (l *MetricsLog) Write(r Record) error {
	if err := l.enc.Encode(r); err != nil {
		return fmt.Errorf("train: metrics log: %w", err)
	}
	return nil
}

// Progress appends the record of a Fit report: kind "epoch" at the end of
// an epoch, else "step".
func (l *MetricsLog) Progress(p Progress) error {
	r := Record{
		Kind: "step", Epoch: p.Epoch, Batch: p.Batch, Step: p.Step,
		Loss: p.Loss, Accuracy: p.Accuracy, Examples: p.Examples,
		Seconds: p.Elapsed.Seconds(), SamplesPerSec: p.SamplesPerSec, LR: p.LR,
	}
	if p.EpochDone {
		r.Kind = "epoch"
	}
	return l.Write(r)
}

// Test appends the record of the final evaluation.
func (l *MetricsLog) Test(m Metrics) error {
	return l.Write(Record{Kind: "test", Loss: m.Loss, Accuracy: m.Accuracy, Examples: m.Examples, Seconds: m.Seconds})
}

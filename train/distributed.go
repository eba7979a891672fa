package train

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// StepTiming is where one distributed step spent its time, in seconds.
type StepTiming struct {
	Step int64 `json:"step"`
	Rank int   `json:"rank"`
	// Compute is forward, backward and the optimizer.
	Compute float64 `json:"compute_s"`
	// Comm is the span from the first communication of the step starting
	// to the last one finishing.
	Comm float64 `json:"comm_s"`
	// Wait is the exposed communication: time the step waited for the
	// network after its own computation was done.
	Wait float64 `json:"wait_s"`
	// Overlap is the fraction of Comm hidden behind computation
	// (1 − Wait/Comm).
	Overlap float64 `json:"overlap"`
	// Optimizer is the local optimizer's share of Compute.
	Optimizer float64 `json:"optimizer_s"`
	// Buckets is the number of allreduce operations of the step.
	Buckets int `json:"buckets,omitempty"`
}

// StepTimingLog writes one JSON line per StepTiming; it is safe for use by
// several goroutines. Lines go out in blocks of 32 KB, not one system call
// per step; Flush writes the rest.
type StepTimingLog struct {
	mu sync.Mutex // guards w
	w  *bufio.Writer
}

// NewStepTimingLog returns a log writing to w.
func NewStepTimingLog(w io.Writer) *StepTimingLog {
	return &StepTimingLog{w: bufio.NewWriterSize(w, 32<<10)}
}

// Add writes t as one JSON line; the first write error is kept for Flush.
func (l *StepTimingLog) Add(t StepTiming) {
	b, _ := json.Marshal(t)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(append(b, '\n'))
}

// Flush writes the lines not written yet and returns the first write
// error.
func (l *StepTimingLog) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Flush()
}

// Timeline records spans of work per rank and thread and writes them in
// the Chrome trace event format (chrome://tracing, Perfetto), as Horovod's
// timeline does. It is safe for use by several goroutines.
type Timeline struct {
	origin time.Time
	mu     sync.Mutex // guards events
	events []traceEvent
	limit  int
}

type traceEvent struct {
	Name string  `json:"name"`
	Ph   string  `json:"ph"`
	Ts   float64 `json:"ts"`  // microseconds since the origin
	Dur  float64 `json:"dur"` // microseconds
	Pid  int     `json:"pid"`
	Tid  int     `json:"tid"`
}

// NewTimeline returns a timeline whose times count from origin, keeping at
// most limit spans (0 means 1,000,000) so a long run cannot exhaust memory.
func NewTimeline(origin time.Time, limit int) *Timeline {
	if limit <= 0 {
		limit = 1_000_000
	}
	return &Timeline{origin: origin, limit: limit}
}

// Span records work called name on rank's thread tid from start to end.
// Spans with a zero start are ignored.
func (tl *Timeline) Span(rank, tid int, name string, start, end time.Time) {
	if start.IsZero() || end.Before(start) {
		return
	}
	ev := traceEvent{Name: name, Ph: "X", Pid: rank, Tid: tid,
		Ts:  float64(start.Sub(tl.origin).Nanoseconds()) / 1e3,
		Dur: float64(end.Sub(start).Nanoseconds()) / 1e3}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if len(tl.events) < tl.limit {
		tl.events = append(tl.events, ev)
	}
}

// Len returns the number of recorded spans.
func (tl *Timeline) Len() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.events)
}

// WriteTo writes the timeline as one Chrome trace JSON object.
func (tl *Timeline) WriteTo(w io.Writer) (int64, error) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	b, err := json.Marshal(struct {
		TraceEvents []traceEvent `json:"traceEvents"`
		Unit        string       `json:"displayTimeUnit"`
	}{tl.events, "ms"})
	if err != nil {
		return 0, fmt.Errorf("train: timeline: %w", err)
	}
	n, err := w.Write(b)
	return int64(n), err
}

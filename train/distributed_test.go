package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// TestStepTimingLog checks that every step comes out as one JSON line, in
// order, part of them before Flush and all after, and that a write error
// reaches Flush.
func TestStepTimingLog(t *testing.T) {
	var out bytes.Buffer
	l := NewStepTimingLog(&out)
	const steps = 2000
	for i := range steps {
		l.Add(StepTiming{Step: int64(i), Rank: 1, Compute: 0.001})
	}
	before := out.Len()
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if before == 0 || before == out.Len() {
		t.Fatalf("%d of %d bytes written before Flush; want some blocks written and the rest kept", before, out.Len())
	}
	sc := bufio.NewScanner(&out)
	n := 0
	for sc.Scan() {
		var st StepTiming
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil || st.Step != int64(n) || st.Rank != 1 {
			t.Fatalf("line %d = %q (%v); want step %d of rank 1", n, sc.Text(), err, n)
		}
		n++
	}
	if n != steps {
		t.Fatalf("%d lines; want %d", n, steps)
	}

	bad := NewStepTimingLog(failingWriter{})
	bad.Add(StepTiming{})
	if err := bad.Flush(); !errors.Is(err, errDiskFull) {
		t.Fatalf("Flush on a failing writer = %v; want %v", err, errDiskFull)
	}
}

var errDiskFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

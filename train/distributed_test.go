package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// TestStepTimingLog checks that every step comes out as one JSON line, in
// order, only whole lines before Flush and all of them after, and that a
// write error reaches Flush.
func TestStepTimingLog(t *testing.T) {
	var out bytes.Buffer
	l := NewStepTimingLog(&out)
	const steps = 2000
	for i := range steps {
		l.Add(StepTiming{Step: int64(i), Rank: 1, Compute: 0.001})
	}
	if out.Len() == 0 || out.Bytes()[out.Len()-1] != '\n' {
		t.Fatalf("before Flush: %d bytes written, ending in a partial line; want whole blocks of lines", out.Len())
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
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

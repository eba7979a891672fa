package data

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVocab(t *testing.T) {
	v := NewVocab("hello, wörld")
	if got, want := v.Size(), 10; got != want {
		t.Fatalf("NewVocab(%q).Size() = %d; want %d", "hello, wörld", got, want)
	}
	for i := 1; i < v.Size(); i++ {
		if v.Rune(i) <= v.Rune(i-1) {
			t.Errorf("vocabulary not sorted: %q before %q", v.Rune(i-1), v.Rune(i))
		}
	}
	ids, err := v.Encode("wörld, hello")
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if got := v.Decode(ids); got != "wörld, hello" {
		t.Errorf("Decode(Encode(s)) = %q; want %q", got, "wörld, hello")
	}
	if _, err := v.Encode("hex"); err == nil || !strings.Contains(err.Error(), `'x'`) {
		t.Errorf("Encode(%q) error = %v; want one naming 'x'", "hex", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back Vocab
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("Unmarshal(%s): %v", b, err)
	}
	if back.Size() != v.Size() || back.Decode(ids) != v.Decode(ids) {
		t.Errorf("vocabulary round trip through %s differs", b)
	}
	if err := json.Unmarshal([]byte(`"ba"`), &back); err == nil {
		t.Error(`Unmarshal("ba") accepted characters out of order`)
	}
}

// TestTextContiguousRows checks the layout truncated BPTT relies on: row r
// of batch k+1 continues the text where row r of batch k stopped.
func TestTextContiguousRows(t *testing.T) {
	const seqLen, rows = 5, 3
	tokens := make([]int32, 53)
	for i := range tokens {
		tokens[i] = int32(i % 7)
	}
	ds, err := NewText(tokens, 7, seqLen, rows)
	if err != nil {
		t.Fatal(err)
	}
	// 52 usable transitions / (3·5) = 3 chunks per stream.
	if got, want := ds.Len(), 9; got != want {
		t.Fatalf("Len() = %d; want %d", got, want)
	}
	l, err := NewLoader(ds, LoaderOptions{BatchSize: rows, DropLast: true})
	if err != nil {
		t.Fatal(err)
	}
	var prev []float32
	k := 0
	for b, err := range l.Batches(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if got := b.X.Shape; len(got) != 2 || got[0] != rows || got[1] != seqLen {
			t.Fatalf("batch %d X shape %v; want [%d %d]", k, got, rows, seqLen)
		}
		for r := range rows {
			x := b.X.Data[r*seqLen : (r+1)*seqLen]
			y := b.Y.Data[r*seqLen : (r+1)*seqLen]
			start := r*3*seqLen + k*seqLen
			for s := range seqLen {
				if x[s] != float32(tokens[start+s]) || y[s] != float32(tokens[start+s+1]) {
					t.Fatalf("batch %d row %d step %d: x=%v y=%v; want tokens at %d", k, r, s, x[s], y[s], start+s)
				}
			}
			if prev != nil && prev[r*seqLen+seqLen-1] != x[0] {
				// The last target of the previous chunk is the next
				// chunk's first input only when they are contiguous.
				t.Errorf("batch %d row %d starts with %v; previous chunk's last target was %v", k, r, x[0], prev[r*seqLen+seqLen-1])
			}
		}
		prev = append(prev[:0], b.Y.Data...)
		k++
	}
	if k != 3 {
		t.Errorf("got %d batches; want 3", k)
	}
}

func TestTextErrors(t *testing.T) {
	tests := []struct {
		name   string
		tokens []int32
		vocab  int
		seq    int
		rows   int
		want   string
	}{
		{"too short", make([]int32, 10), 1, 5, 2, "too short"},
		{"bad token", []int32{0, 1, 5, 1, 0, 1, 0}, 2, 2, 1, "position 2"},
		{"zero seq", make([]int32, 10), 1, 0, 1, "sequence length"},
	}
	for _, tt := range tests {
		_, err := NewText(tt.tokens, tt.vocab, tt.seq, tt.rows)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewText error = %v; want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestReadTextFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	if err := os.WriteFile(good, []byte("to be or not to be\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := ReadTextFile(good); err != nil || s != "to be or not to be\n" {
		t.Errorf("ReadTextFile(good) = %q, %v", s, err)
	}
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte{0xff, 0xfe, 'a'}, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{bad, "not UTF-8"},
		{filepath.Join(dir, "missing.txt"), "text:FILE"},
	} {
		if _, err := ReadTextFile(c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadTextFile(%s) error = %v; want one containing %q", filepath.Base(c.path), err, c.want)
		}
	}
}

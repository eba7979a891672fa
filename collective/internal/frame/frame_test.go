package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func encode(t testing.TB, frames []Header, payload func(i int) []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	var b [HeaderSize]byte
	for i, h := range frames {
		h.Encode(&b)
		out.Write(b[:])
		out.Write(payload(i))
	}
	return out.Bytes()
}

func TestRoundTrip(t *testing.T) {
	frames := []Header{
		{Kind: Hello, Seq: 0, Len: 5},
		{Kind: Data, Seq: 1, Len: 0},
		{Kind: Data, Seq: 1 << 40, Len: 300},
		{Kind: Abort, Seq: 7, Len: 3},
	}
	payload := func(i int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, frames[i].Len) }
	d := NewDecoder(bytes.NewReader(encode(t, frames, payload)), 1024)
	for i, want := range frames {
		got, err := d.Next()
		if err != nil {
			t.Fatalf("Next() #%d: %v", i, err)
		}
		if got != want {
			t.Fatalf("Next() #%d = %+v; want %+v", i, got, want)
		}
		p := make([]byte, got.Len)
		if _, err := io.ReadFull(d.r, p); err != nil || !bytes.Equal(p, payload(i)) {
			t.Fatalf("payload #%d = %v, %v; want %v", i, p, err, payload(i))
		}
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("Next() at end = %v; want io.EOF", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := func() [HeaderSize]byte {
		var b [HeaderSize]byte
		Header{Kind: Data, Seq: 3, Len: 16}.Encode(&b)
		return b
	}
	tests := []struct {
		name   string
		mutate func(b *[HeaderSize]byte)
		want   error
	}{
		{"magic", func(b *[HeaderSize]byte) { b[0] ^= 0xff }, ErrBadMagic},
		{"kind zero", func(b *[HeaderSize]byte) { binary.LittleEndian.PutUint16(b[4:], 0) }, ErrBadKind},
		{"kind high", func(b *[HeaderSize]byte) { binary.LittleEndian.PutUint16(b[4:], 99) }, ErrBadKind},
		{"reserved", func(b *[HeaderSize]byte) { b[21] = 1 }, ErrReserved},
		{"too large", func(b *[HeaderSize]byte) { binary.LittleEndian.PutUint32(b[16:], 17) }, ErrTooLarge},
		{"huge", func(b *[HeaderSize]byte) { binary.LittleEndian.PutUint32(b[16:], 0xffffffff) }, ErrTooLarge},
	}
	for _, tt := range tests {
		b := good()
		tt.mutate(&b)
		if _, err := Decode(&b, 16); !errors.Is(err, tt.want) {
			t.Errorf("Decode(%s) error = %v; want %v", tt.name, err, tt.want)
		}
	}
	b := good()
	if h, err := Decode(&b, 16); err != nil || h.Len != 16 {
		t.Errorf("Decode(good) = %+v, %v; want Len 16", h, err)
	}
}

func TestTruncated(t *testing.T) {
	var b [HeaderSize]byte
	Header{Kind: Data, Len: 1}.Encode(&b)
	d := NewDecoder(bytes.NewReader(b[:10]), 16)
	if _, err := d.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("Next() on a cut header = %v; want io.ErrUnexpectedEOF", err)
	}
}

func TestNoAllocs(t *testing.T) {
	var b [HeaderSize]byte
	Header{Kind: Data, Seq: 1, Len: 8}.Encode(&b)
	r := bytes.NewReader(nil)
	d := NewDecoder(r, 8)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(b[:])
		if _, err := d.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decoder.Next allocates %v times per frame; want 0", allocs)
	}
}

// FuzzFrameDecoder feeds arbitrary streams to a Decoder the way a connection
// reader does: read a header, then exactly its payload into a bounded buffer.
// It must never panic, never hand out a length over the cap, and must decode
// back every frame that Encode wrote.
func FuzzFrameDecoder(f *testing.F) {
	var b [HeaderSize]byte
	Header{Kind: Data, Seq: 9, Len: 4}.Encode(&b)
	f.Add(append(b[:], 1, 2, 3, 4))
	Header{Kind: Abort, Seq: 1, Len: 1 << 30}.Encode(&b)
	f.Add(b[:])
	f.Add([]byte("SHLF"))
	f.Add([]byte{})
	const maxLen = 1 << 12
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data), maxLen)
		payload := make([]byte, maxLen)
		for {
			h, err := d.Next()
			if err != nil {
				return
			}
			if h.Len < 0 || h.Len > maxLen {
				t.Fatalf("Next() accepted length %d over the cap %d", h.Len, maxLen)
			}
			if _, err := io.ReadFull(d.r, payload[:h.Len]); err != nil {
				return
			}
			var again [HeaderSize]byte
			h.Encode(&again)
			h2, err := Decode(&again, maxLen)
			if err != nil || h2 != h {
				t.Fatalf("re-encoded header %+v decodes to %+v, %v", h, h2, err)
			}
		}
	})
}

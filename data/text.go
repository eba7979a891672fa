package data

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// Vocab is a character vocabulary: the distinct characters (runes) of a
// text in increasing order, token id i standing for the i-th. The order
// makes the ids depend only on the set of characters, never on map
// iteration or on where a character first appears.
type Vocab struct {
	runes []rune
	index map[rune]int32 // read-only once built
}

// NewVocab returns the vocabulary of the characters in text. Invalid UTF-8
// bytes count as utf8.RuneError, like a range loop over a string.
func NewVocab(text string) *Vocab {
	seen := map[rune]bool{}
	var runes []rune
	for _, r := range text {
		if !seen[r] {
			seen[r] = true
			runes = append(runes, r)
		}
	}
	slices.Sort(runes)
	return vocabOf(runes)
}

// vocabOf indexes sorted distinct runes.
func vocabOf(runes []rune) *Vocab {
	v := &Vocab{runes: runes, index: make(map[rune]int32, len(runes))}
	for i, r := range runes {
		v.index[r] = int32(i)
	}
	return v
}

// Size returns the number of distinct characters.
func (v *Vocab) Size() int { return len(v.runes) }

// Rune returns the character of token id; an id outside [0, Size()) panics.
func (v *Vocab) Rune(id int) rune { return v.runes[id] }

// ID returns the token id of r and whether r is in the vocabulary.
func (v *Vocab) ID(r rune) (int32, bool) {
	id, ok := v.index[r]
	return id, ok
}

// Encode returns the token ids of s. A character outside the vocabulary is
// an error naming it and its position.
func (v *Vocab) Encode(s string) ([]int32, error) {
	ids := make([]int32, 0, len(s))
	pos := 0
	for _, r := range s {
		id, ok := v.index[r]
		if !ok {
			return nil, fmt.Errorf("data: character %q at position %d is not in the vocabulary of %d characters; use characters of the training text", r, pos, len(v.runes))
		}
		ids = append(ids, id)
		pos++
	}
	return ids, nil
}

// Decode returns the text of token ids; an id outside the vocabulary panics.
func (v *Vocab) Decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteRune(v.runes[id])
	}
	return b.String()
}

// MarshalJSON writes the vocabulary as a JSON string of its characters in
// id order, which is how it is saved next to a trained model.
func (v *Vocab) MarshalJSON() ([]byte, error) {
	return json.Marshal(string(v.runes))
}

// UnmarshalJSON reads what MarshalJSON wrote. The characters must be
// distinct and in increasing order.
func (v *Vocab) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("data: vocabulary: %w", err)
	}
	runes := []rune(s)
	for i := 1; i < len(runes); i++ {
		if runes[i] <= runes[i-1] {
			return fmt.Errorf("data: vocabulary: character %q at %d is not after %q; the vocabulary file is damaged, train again", runes[i], i, runes[i-1])
		}
	}
	*v = *vocabOf(runes)
	return nil
}

// Text is a character-level language-modelling dataset for truncated
// backpropagation through time. Example features are SeqLen consecutive
// token ids of the text and the targets are the ids one position later
// (the next character at every step); both are stored as float32, so
// FeatureShape and TargetShape are [SeqLen].
//
// The token stream is cut into Rows equally long streams, one per row of a
// batch, and example i is chunk i/Rows of stream i%Rows. Read by a Loader
// without shuffling and with BatchSize Rows, batch k therefore holds chunk
// k of every stream: row r of batch k continues the text exactly where row r
// of batch k−1 stopped, so a stateful recurrent layer that carries its state
// from batch to batch sees contiguous text. Tokens past the last whole chunk
// are left out.
type Text struct {
	tokens []int32
	seqLen int
	rows   int
	chunks int // chunks per stream
}

// NewText returns the dataset over tokens (ids below vocabSize) for
// sequences of seqLen steps and batches of rows rows. The text must hold at
// least one chunk per row: rows·seqLen+1 tokens.
func NewText(tokens []int32, vocabSize, seqLen, rows int) (*Text, error) {
	if seqLen < 1 || rows < 1 {
		return nil, fmt.Errorf("data: text: sequence length %d and rows %d must be at least 1", seqLen, rows)
	}
	for i, id := range tokens {
		if id < 0 || int(id) >= vocabSize {
			return nil, fmt.Errorf("data: text: token %d at position %d is outside the vocabulary of %d", id, i, vocabSize)
		}
	}
	chunks := 0
	if len(tokens) > 0 {
		chunks = (len(tokens) - 1) / (rows * seqLen)
	}
	if chunks == 0 {
		return nil, fmt.Errorf("data: text of %d characters is too short for %d rows of %d steps (needs %d); use a longer text or a smaller batch or bptt",
			len(tokens), rows, seqLen, rows*seqLen+1)
	}
	return &Text{tokens: tokens, seqLen: seqLen, rows: rows, chunks: chunks}, nil
}

// ReadTextFile reads a UTF-8 text file for NewText. A missing or empty file
// or one that is not UTF-8 is an error that says so.
func ReadTextFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("data: text: %w; give an existing text file as text:FILE", err)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("data: text: %s is empty; give a text file with some content", path)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("data: text: %s is not UTF-8 text; convert it (e.g. with iconv) or give another file", path)
	}
	return string(b), nil
}

// Len returns the number of examples: Rows times the chunks per stream.
func (t *Text) Len() int { return t.rows * t.chunks }

// FeatureShape returns [SeqLen].
func (t *Text) FeatureShape() []int { return []int{t.seqLen} }

// TargetShape returns [SeqLen]: the next token at every step.
func (t *Text) TargetShape() []int { return []int{t.seqLen} }

// SeqLen returns the number of steps per example.
func (t *Text) SeqLen() int { return t.seqLen }

// Rows returns the number of streams, the batch size the layout is for.
func (t *Text) Rows() int { return t.rows }

// Start returns the position in the token stream of example i's first
// feature.
func (t *Text) Start(i int) int {
	chunk, row := i/t.rows, i%t.rows
	return row*t.chunks*t.seqLen + chunk*t.seqLen
}

// Read copies example i's token ids into features and the following ids
// into target.
func (t *Text) Read(i int, features, target []float32) {
	if i < 0 || i >= t.Len() || len(features) != t.seqLen || len(target) != t.seqLen {
		panic(fmt.Sprintf("data: Text.Read(%d) of %d examples with buffers of %d and %d for %d steps", i, t.Len(), len(features), len(target), t.seqLen))
	}
	s := t.Start(i)
	for k := range t.seqLen {
		features[k] = float32(t.tokens[s+k])
		target[k] = float32(t.tokens[s+k+1])
	}
}

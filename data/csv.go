package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// HeaderMode says whether the first row of a CSV file names its columns.
type HeaderMode int

const (
	// HeaderAuto treats the first row as a header when any of its fields is
	// not a number.
	HeaderAuto HeaderMode = iota
	// HeaderPresent: the first row is a header.
	HeaderPresent
	// HeaderAbsent: every row is data.
	HeaderAbsent
)

// CSVOptions configure LoadCSV.
type CSVOptions struct {
	// Header says whether the first row names the columns (default: guess).
	Header HeaderMode
	// LabelName selects the target column by its header name; it takes
	// precedence over LabelIndex.
	LabelName string
	// LabelIndex selects the target column by position, 0 for the first; a
	// negative index counts from the end (-1 is the last column).
	LabelIndex int
	// Comma is the field separator; 0 means ','.
	Comma rune
	// Name names the input in error messages (e.g. the file name); "" means
	// "CSV input".
	Name string
}

// LoadCSV reads numeric features and one target column from r: every row
// becomes an example with features of shape [F] (all columns but the target,
// in order) and a scalar target. Errors match ErrFormat and name the line
// and column of a bad value.
func LoadCSV(r io.Reader, opts CSVOptions) (*InMemory, error) {
	name := opts.Name
	if name == "" {
		name = "CSV input"
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	if opts.Comma != 0 {
		cr.Comma = opts.Comma
	}
	cr.TrimLeadingSpace = true

	row, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, formatErrorf("%s is empty; it needs at least one row of numbers", name)
		}
		return nil, csvReadError(name, err)
	}
	var header []string
	switch opts.Header {
	case HeaderPresent:
		header = append([]string(nil), row...)
	case HeaderAuto:
		for _, f := range row {
			if _, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err != nil {
				header = append([]string(nil), row...)
				break
			}
		}
	}
	cols := len(row)
	if cols < 2 {
		return nil, formatErrorf("%s has %d column; it needs at least one feature and a label column", name, cols)
	}
	label, err := labelColumn(name, opts, header, cols)
	if err != nil {
		return nil, err
	}
	colName := func(c int) string {
		if header != nil {
			return fmt.Sprintf("column %d (%q)", c+1, header[c])
		}
		return fmt.Sprintf("column %d", c+1)
	}

	var x, y []float32
	parseRow := func(row []string) error {
		line, _ := cr.FieldPos(0)
		for c, f := range row {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				what := fmt.Sprintf("%q is not a number", f)
				if strings.TrimSpace(f) == "" {
					what = "the value is missing"
				} else if err == nil || errors.Is(err, strconv.ErrRange) {
					what = fmt.Sprintf("%q is not a finite float32", f)
				}
				return formatErrorf("%s line %d, %s: %s; fix or remove the row", name, line, colName(c), what)
			}
			if c == label {
				y = append(y, float32(v))
			} else {
				x = append(x, float32(v))
			}
		}
		return nil
	}
	if header == nil {
		if err := parseRow(row); err != nil {
			return nil, err
		}
	}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvReadError(name, err)
		}
		if err := parseRow(row); err != nil {
			return nil, err
		}
	}
	if len(y) == 0 {
		return nil, formatErrorf("%s has a header but no rows of data", name)
	}
	return NewInMemory(x, []int{cols - 1}, y, []int{})
}

// labelColumn resolves the target column of opts.
func labelColumn(name string, opts CSVOptions, header []string, cols int) (int, error) {
	if opts.LabelName != "" {
		if header == nil {
			return 0, formatErrorf("%s has no header row, so label column %q cannot be found; select it by index instead", name, opts.LabelName)
		}
		for c, h := range header {
			if strings.TrimSpace(h) == opts.LabelName {
				return c, nil
			}
		}
		return 0, formatErrorf("%s has no column %q; its columns are %s", name, opts.LabelName, strings.Join(header, ", "))
	}
	c := opts.LabelIndex
	if c < 0 {
		c += cols
	}
	if c < 0 || c >= cols {
		return 0, formatErrorf("label column %d is outside the %d columns of %s", opts.LabelIndex, cols, name)
	}
	return c, nil
}

// csvReadError turns an encoding/csv error (which carries the line) into a
// one-line data error.
func csvReadError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return newError(ErrFormat, err, "%s line %d has a different number of fields than the first row; every row needs the same columns", name, pe.Line)
		}
		return newError(ErrFormat, err, "%s line %d, column %d: %v", name, pe.Line, pe.Column, pe.Err)
	}
	return newError(ErrFormat, err, "%s: %v", name, err)
}

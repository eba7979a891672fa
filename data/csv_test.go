package data

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLoadCSV(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		opts       CSVOptions
		wantX      string
		wantY      string
		wantShape  []int
		wantHeader bool
	}{
		{"header, label by name", "a,b,label\n1,2,0\n3,4.5,1\n", CSVOptions{LabelName: "label"}, "[1 2 3 4.5]", "[0 1]", []int{2}, true},
		{"no header, label first", "7,1,2\n8,3,4\n", CSVOptions{}, "[1 2 3 4]", "[7 8]", []int{2}, false},
		{"no header, label last", "1,2,7\n3,4,8\n", CSVOptions{LabelIndex: -1}, "[1 2 3 4]", "[7 8]", []int{2}, false},
		{"forced header of numbers", "1,2\n3,4\n", CSVOptions{Header: HeaderPresent}, "[4]", "[3]", []int{1}, true},
		{"semicolons and spaces", "x; y\n 1; 2\n", CSVOptions{Comma: ';', LabelName: "y"}, "[1]", "[2]", []int{1}, true},
		{"label in the middle", "1,9,2\n", CSVOptions{LabelIndex: 1}, "[1 2]", "[9]", []int{2}, false},
	}
	for _, tc := range tests {
		ds, err := LoadCSV(strings.NewReader(tc.in), tc.opts)
		if err != nil {
			t.Errorf("%s: LoadCSV: %v", tc.name, err)
			continue
		}
		if got := fmt.Sprint(ds.Features()); got != tc.wantX {
			t.Errorf("%s: features = %s; want %s", tc.name, got, tc.wantX)
		}
		if got := fmt.Sprint(ds.Targets()); got != tc.wantY {
			t.Errorf("%s: targets = %s; want %s", tc.name, got, tc.wantY)
		}
		if got := ds.FeatureShape(); !equalInts(got, tc.wantShape) {
			t.Errorf("%s: FeatureShape() = %v; want %v", tc.name, got, tc.wantShape)
		}
	}
}

func TestLoadCSVErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts CSVOptions
		want string
	}{
		{"bad number", "a,b,y\n1,2,0\n3,x4,1\n", CSVOptions{LabelName: "y", Name: "iris.csv"}, `iris.csv line 3, column 2 ("b"): "x4" is not a number`},
		{"bad number no header", "1,2\n3,oops\n", CSVOptions{}, `CSV input line 2, column 2: "oops" is not a number`},
		{"missing value", "1,2\n3,\n", CSVOptions{}, "line 2, column 2: the value is missing"},
		{"infinite", "1,2\n3,1e99\n", CSVOptions{}, `"1e99" is not a finite float32`},
		{"nan", "1,NaN\n", CSVOptions{}, `"NaN" is not a finite float32`},
		{"ragged", "1,2\n3,4,5\n", CSVOptions{}, "line 2 has a different number of fields"},
		{"empty", "", CSVOptions{}, "CSV input is empty"},
		{"header only", "a,b\n", CSVOptions{}, "has a header but no rows"},
		{"one column", "1\n2\n", CSVOptions{}, "needs at least one feature and a label column"},
		{"unknown label", "a,b\n1,2\n", CSVOptions{LabelName: "c"}, `has no column "c"; its columns are a, b`},
		{"label name without header", "1,2\n", CSVOptions{LabelName: "c"}, "no header row"},
		{"label index out of range", "1,2\n", CSVOptions{LabelIndex: 5}, "label column 5 is outside the 2 columns"},
		{"bad quote", "1,\"2\n", CSVOptions{}, "line 1"},
	}
	for _, tc := range tests {
		_, err := LoadCSV(strings.NewReader(tc.in), tc.opts)
		if err == nil {
			t.Errorf("%s: LoadCSV succeeded; want an error containing %q", tc.name, tc.want)
			continue
		}
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %q does not match ErrFormat", tc.name, err)
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q; want one line containing %q", tc.name, err, tc.want)
		}
	}
}

func FuzzCSV(f *testing.F) {
	f.Add("a,b,label\n1,2,0\n3,4.5,1\n", 0)
	f.Add("1,2\n3,4\n", -1)
	f.Add("x;y\n1;2\n", 1)
	f.Add("\"1\",2\n", 0)
	f.Fuzz(func(t *testing.T, in string, label int) {
		ds, err := LoadCSV(strings.NewReader(in), CSVOptions{LabelIndex: label % 4})
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("LoadCSV error %q does not match ErrFormat", err)
			}
			return
		}
		f := ds.FeatureShape()[0]
		if len(ds.Features()) != ds.Len()*f || len(ds.Targets()) != ds.Len() || ds.Len() == 0 {
			t.Fatalf("LoadCSV: %d features of width %d and %d targets", len(ds.Features()), f, len(ds.Targets()))
		}
	})
}

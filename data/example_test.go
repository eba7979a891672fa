package data_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/shoal-dl/shoal/data"
)

func ExampleLoader() {
	// Six examples with one feature each; the label is the example's index.
	ds, _ := data.NewInMemory([]float32{0, 10, 20, 30, 40, 50}, []int{1}, []float32{0, 1, 2, 3, 4, 5}, []int{})
	for rank := range 2 {
		l, _ := data.NewLoader(ds, data.LoaderOptions{BatchSize: 2, Rank: rank, World: 2})
		for b, err := range l.Batches(context.Background(), 0) {
			if err != nil {
				panic(err)
			}
			fmt.Println("rank", rank, "labels", b.Labels, "x", b.X.Data)
		}
	}
	// Output:
	// rank 0 labels [0 2] x [0 20]
	// rank 0 labels [4] x [40]
	// rank 1 labels [1 3] x [10 30]
	// rank 1 labels [5] x [50]
}

func ExampleLoadCSV() {
	in := "sepal,petal,species\n5.1,1.4,0\n7.0,4.7,1\n"
	ds, err := data.LoadCSV(strings.NewReader(in), data.CSVOptions{LabelName: "species"})
	if err != nil {
		panic(err)
	}
	fmt.Println(ds.Len(), ds.FeatureShape(), ds.Features(), ds.Targets())

	_, err = data.LoadCSV(strings.NewReader("a,b\n1,x\n"), data.CSVOptions{Name: "iris.csv"})
	fmt.Println(err)
	// Output:
	// 2 [2] [5.1 1.4 7 4.7] [0 1]
	// data: iris.csv line 2, column 2 ("b"): "x" is not a number; fix or remove the row
}

func ExampleShardIndices() {
	perm := data.Permutation(1, 0, 10)
	fmt.Println(perm)
	fmt.Println(data.ShardIndices(perm, 0, 3), data.ShardIndices(perm, 1, 3), data.ShardIndices(perm, 2, 3))
	// Output:
	// [2 5 8 3 4 1 7 6 0 9]
	// [2 3 7] [5 4 6] [8 1 0]
}

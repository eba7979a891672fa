// Package data feeds examples to training: datasets, their file formats, and
// the Loader that cuts them into shuffled, sharded, prefetched mini-batches.
//
// # Datasets
//
// A Dataset is random access to examples with fixed-shape float32 features
// and targets. InMemory holds one in two flat slices; LoadIDX reads the
// MNIST family's IDX files (gzip-compressed or raw).
//
// # Loading batches
//
// A Loader serves one rank's share of every epoch:
//
//	l, err := data.NewLoader(train, data.LoaderOptions{
//		BatchSize: 64, Shuffle: true, Seed: 1,
//		Rank: rank, World: world, Prefetch: 2,
//	})
//	for b, err := range l.Batches(ctx, epoch) {
//		if err != nil {
//			return err
//		}
//		// b.X is [64, 1, 28, 28], b.Labels the class labels.
//	}
//
// The order of an epoch is Permutation(Seed, epoch, n), sharded with
// ShardIndices (or ShardIndicesBySize when ranks have different batch sizes),
// so the same seed gives the same batches on every machine and Go version.
//
// # Errors
//
// Errors about missing files match ErrNotFound, errors about malformed
// contents match ErrFormat; both are one line that names the file, the
// problem and the fix.
package data

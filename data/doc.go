// Package data feeds examples to training: datasets, their file formats, the
// named datasets shoal can fetch, and the Loader that cuts a dataset into
// shuffled, sharded, prefetched mini-batches.
//
// # Datasets
//
// A Dataset is random access to examples with fixed-shape float32 features
// and targets (a class label is a scalar target). Sources:
//
//   - InMemory holds examples in two flat slices (NewInMemory, Materialize).
//   - LoadIDX reads an image and a label file of the MNIST family,
//     gzip-compressed or raw (told by the first bytes), pixels scaled to
//     [0, 1]; ReadIDX decodes any IDX array.
//   - LoadCSV reads numeric features and one label column, with or without
//     a header; a bad value is reported with its line and column.
//   - Records is a directory of record files for data larger than memory:
//     fixed-size little-endian records behind a small checksummed header,
//     read with ReadAt on demand. Write them with RecordWriter or
//     WriteRecords; files appear atomically.
//
// FitStandardize and FitNormalize measure a transform on the training set;
// apply the same Affine to the test set (Transformed, ApplyInPlace).
//
// # Named datasets
//
// Open("fashion-mnist", "train", "") loads a split of a dataset in the
// Catalog from the cache (DatasetDir: $SHOAL_DATA/<name>, else the user
// cache directory's shoal/datasets/<name>) or from where Debian's
// dataset-fashion-mnist package installs it. Get, behind `shoal data get
// NAME`, fills the cache from that package's directory or by download, and
// checks every file against its published SHA-256 before an atomic rename.
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
// The order of an epoch is Permutation(Seed, epoch, n), which uses PCG and
// its own shuffle so that it is the same on every machine and Go version.
// ShardIndices then gives rank every world-th example: shards are disjoint
// and equal, and the n mod world left over change from epoch to epoch. With
// RankBatchSizes, workers of different speed take batches of different
// sizes; ShardIndicesBySize splits every global batch in proportion, so all
// ranks still run NumBatches steps. BatchesFrom resumes mid-epoch.
//
// A yielded Batch is reused: it is valid until the next iteration. Breaking
// out of the loop or cancelling ctx stops the prefetch goroutine before the
// loop statement ends.
//
// # Errors
//
// Errors about missing files or names match ErrNotFound; errors about
// malformed contents match ErrFormat (ErrChecksum for a checksum mismatch).
// Their messages are one line naming the file, the problem and the fix:
//
//	data: train-labels-idx1-ubyte.gz has 59999 labels but
//	train-images-idx3-ubyte.gz has 60000 images; run `shoal data get
//	fashion-mnist` to fetch verified files
package data

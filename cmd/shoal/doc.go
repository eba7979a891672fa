// Command shoal is the one binary of the shoal distributed deep-learning
// system. Each subcommand only wires packages together:
//
//	shoal bench gemm --m 1024 --n 1024 --k 1024 --threads 1 --json
//	shoal version
//
// Run `shoal help <command>` for the flags of each.
package main

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// exitUsage is the status for bad input: a missing file, a malformed spec,
// a wrong flag. Anything else that fails exits with 1.
const exitUsage = 2

// errUsage marks errors caused by what the user gave; main exits with 2.
var errUsage = errors.New("bad input")

// usageErrorf returns an error that main reports with exit status 2.
func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

var rootCmd = &cobra.Command{
	Use:   "shoal",
	Short: "Distributed deep-learning: train, checkpoint, register and serve neural networks",
	Long: `shoal trains neural networks (dense, convolutional, recurrent) on one machine or
data-parallel across many, keeps the trained models, and serves them.

Everything runs from this one binary with embedded defaults, so a laptop needs
nothing else.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Measure shoal's kernels and communication on this machine",
	Long: `bench runs one measurement and prints the result; with --json it prints one JSON
object, which the scripts in bench/ compare with peer systems side by side.`,
}

var versionCmd = &cobra.Command{
	Use:   "version",
	Short: "Print shoal's version",
	Args:  cobra.NoArgs,
	Run: func(cmd *cobra.Command, _ []string) {
		fmt.Fprintln(cmd.OutOrStdout(), "shoal", version())
	},
}

func init() {
	rootCmd.AddCommand(benchCmd, versionCmd)
}

// version returns the module version stamped by the Go toolchain, or "dev".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "shoal:", err)
		if errors.Is(err, errUsage) {
			os.Exit(exitUsage)
		}
		os.Exit(1)
	}
}

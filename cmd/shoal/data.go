package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/shoal-dl/shoal/data"
	"github.com/spf13/cobra"
)

var dataCmd = &cobra.Command{
	Use:   "data",
	Short: "Fetch and list the datasets shoal knows by name",
	Long: `data manages the local cache of datasets that training opens by name
(` + strings.Join(data.KnownNames(), ", ") + `).

The cache lives in --dir, else $SHOAL_DATA, else the user cache directory
(shoal/datasets below it); each dataset gets a subdirectory of its own.`,
}

var dataGetFlags struct {
	dir     string
	from    string
	offline bool
}

var dataGetCmd = &cobra.Command{
	Use:   "get NAME",
	Short: "Put a dataset's verified files into the cache and print where they are",
	Long: `get makes sure every file of dataset NAME is in the cache with its official
SHA-256. It takes the files, in order, from the cache itself, from the
directory an operating-system package installs them in (Debian's
dataset-fashion-mnist puts Fashion-MNIST in ` + data.DebianFashionMNISTDir + `),
or by download from the official location with a progress line. Every file is
verified before it is written, atomically, into the cache; damaged cached
files are replaced.

On a machine without network, copy the official files into a directory and
pass it with --from.`,
	Example: `  shoal data get fashion-mnist
  shoal data get mnist --dir ./datasets
  shoal data get mnist --from ~/Downloads/mnist`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		known, err := data.Lookup(args[0])
		if err != nil {
			return usageErrorf("%v", err)
		}
		dir, got, err := data.Get(cmd.Context(), known, data.GetOptions{
			Root:     dataGetFlags.dir,
			From:     dataGetFlags.from,
			Offline:  dataGetFlags.offline,
			Progress: cmd.ErrOrStderr(),
		})
		if err != nil {
			if errors.Is(err, data.ErrNotFound) || errors.Is(err, data.ErrFormat) {
				return usageErrorf("%v", err)
			}
			return err
		}
		out := cmd.OutOrStdout()
		for _, f := range got {
			src := f.Source
			if src != "cache" {
				src = "from " + src
			} else {
				src = "already cached"
			}
			fmt.Fprintf(out, "%-28s %s (verified)\n", f.Name, src)
		}
		fmt.Fprintf(out, "%s is in %s\n", known.Name, dir)
		return nil
	},
}

var dataListDir string

var dataListCmd = &cobra.Command{
	Use:   "list",
	Short: "List the known datasets and whether their verified files are cached",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSTATUS\tDIRECTORY\tDESCRIPTION")
		for _, known := range data.Catalog() {
			dir, err := data.DatasetDir(dataListDir, known.Name)
			if err != nil {
				return err
			}
			status := "absent"
			switch present, total := data.Status(known, dir); {
			case present == total:
				status = "present"
			case present > 0:
				status = fmt.Sprintf("partial (%d/%d)", present, total)
			default:
				for _, sys := range known.SystemDirs {
					if _, err := os.Stat(sys); err == nil {
						status = "installed in " + sys + "; run shoal data get " + known.Name
						break
					}
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", known.Name, status, dir, known.Description)
		}
		return tw.Flush()
	},
}

func init() {
	f := dataGetCmd.Flags()
	f.StringVar(&dataGetFlags.dir, "dir", "", "cache root (default $SHOAL_DATA, else the user cache directory)")
	f.StringVar(&dataGetFlags.from, "from", "", "take the files only from this directory (no download)")
	f.BoolVar(&dataGetFlags.offline, "offline", false, "never download; use the cache and system directories only")
	dataListCmd.Flags().StringVar(&dataListDir, "dir", "", "cache root (default $SHOAL_DATA, else the user cache directory)")
	dataCmd.AddCommand(dataGetCmd, dataListCmd)
	rootCmd.AddCommand(dataCmd)
}

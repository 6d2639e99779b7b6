package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"tug/internal/version"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "tug %s (Kubernetes API %s, commit %s, %s, %s/%s)\n",
				version.Version, version.Kubernetes, version.Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}

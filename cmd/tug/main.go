// Command tug is Kubernetes in one binary: `tug server` runs the control plane,
// `tug agent` a node, `tug up` both on this machine.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"tug/internal/agent/images"
	"tug/internal/agent/images/pauseproc"
)

func main() {
	// Started as the pause process of a sandbox image built from this binary.
	if images.IsPauseInvocation() {
		pauseproc.Run()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

type logFlags struct {
	level  string
	format string
}

func (l *logFlags) setup() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(l.format) {
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	case "text", "":
		h = slog.NewTextHandler(os.Stderr, opts)
	default:
		return fmt.Errorf("--log-format must be text or json, not %q", l.format)
	}
	slog.SetDefault(slog.New(h))
	// client-go logs through klog; send it to the same place, structured.
	klog.SetSlogLogger(slog.Default())
	return nil
}

func newRoot() *cobra.Command {
	lf := &logFlags{}
	root := &cobra.Command{
		Use:           "tug",
		Short:         "Kubernetes in one small binary",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return lf.setup()
		},
	}
	root.PersistentFlags().StringVar(&lf.level, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&lf.format, "log-format", "text", "log format: text or json")
	root.AddCommand(newServerCmd(), newAgentCmd(), newVersionCmd())
	root.AddCommand(newUpCmd(), newImageCmd())
	return root
}

// Package pauseproc is the sandbox process of every pod: it holds the pod's
// namespaces, reaps the orphans it inherits as process 1, and exits on SIGINT or
// SIGTERM. It imports nothing heavy, so cmd/pause stays a small static binary.
package pauseproc

import (
	"os"
	"os/signal"
	"syscall"
)

// Run never returns: the process exits on SIGINT or SIGTERM.
func Run() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
	os.Exit(0)
}

// Package network gives a node its own network: a network namespace joined to a
// host bridge by a veth pair, the CNI configuration for its pods, and the means to
// run code, dial, listen and start processes inside that namespace without moving
// the whole process there.
//
// The host's own namespace only ever gets the bridge and the host ends of veth
// pairs: no forwarding, no NAT, no iptables rules. Everything else (the pod bridge,
// forwarding, port maps) happens inside the node's namespace.
package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// NetnsDir is where named network namespaces live (the iproute2 convention).
const NetnsDir = "/run/netns"

// Namespace is a named network namespace. A nil *Namespace stands for the
// namespace the process runs in, so callers need no special case for "no netns".
type Namespace struct {
	Name string
	Path string
	fd   int
}

// OpenNamespace opens the named namespace, which must exist.
func OpenNamespace(name string) (*Namespace, error) {
	p := filepath.Join(NetnsDir, name)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", name, err)
	}
	return &Namespace{Name: name, Path: p, fd: fd}, nil
}

// EnsureNamespace creates the named namespace if it is missing and opens it.
func EnsureNamespace(name string) (*Namespace, error) {
	if _, err := os.Stat(filepath.Join(NetnsDir, name)); errors.Is(err, os.ErrNotExist) {
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("create network namespace %s: %v: %s", name, err, out)
		}
	}
	return OpenNamespace(name)
}

// DeleteNamespace removes the named namespace (its interfaces go with it once no
// process holds it). A missing namespace is not an error.
func DeleteNamespace(name string) error {
	if _, err := os.Stat(filepath.Join(NetnsDir, name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
		return fmt.Errorf("delete network namespace %s: %v: %s", name, err, out)
	}
	return nil
}

// Close releases the namespace handle.
func (n *Namespace) Close() error {
	if n == nil || n.fd < 0 {
		return nil
	}
	err := unix.Close(n.fd)
	n.fd = -1
	return err
}

// String names the namespace for logs.
func (n *Namespace) String() string {
	if n == nil {
		return "host"
	}
	return n.Name
}

// Do runs fn on an OS thread that has entered the namespace. Only the network
// namespace changes (never the mount namespace, which would hide the cgroup mounts
// from runc). Sockets created and processes started inside fn belong to the
// namespace; goroutines fn starts do not.
func (n *Namespace) Do(fn func() error) error {
	if n == nil {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open current network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", n.Name, err)
			return
		}
		ferr := fn()
		// A thread that cannot go back stays locked and ends with this goroutine, so
		// no other goroutine ever runs in the wrong namespace.
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// DialContext connects from inside the namespace. addr must hold an IP address:
// name resolution would run on other threads, outside the namespace.
func (n *Namespace) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	if n == nil {
		return d.DialContext(ctx, network, addr)
	}
	var c net.Conn
	err := n.Do(func() error {
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen listens inside the namespace.
func (n *Namespace) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// Start starts cmd inside the namespace; the process and its children stay there.
func (n *Namespace) Start(cmd *exec.Cmd) error {
	return n.Do(cmd.Start)
}

// Run runs cmd inside the namespace and returns its combined output.
func (n *Namespace) Run(cmd *exec.Cmd) ([]byte, error) {
	var out []byte
	err := n.Do(func() error {
		var err error
		out, err = cmd.CombinedOutput()
		return err
	})
	return out, err
}

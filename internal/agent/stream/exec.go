package stream

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"tug/internal/nodeproxy/upgrade"
)

// commandOptions are the query of an exec or attach request.
type commandOptions struct {
	command                    []string
	stdin, stdout, stderr, tty bool
}

// parseCommandOptions reads an exec (withCommand) or attach query.
func parseCommandOptions(q url.Values, withCommand bool) (commandOptions, error) {
	var o commandOptions
	var err error
	for _, p := range []struct {
		name string
		to   *bool
	}{{"stdin", &o.stdin}, {"stdout", &o.stdout}, {"stderr", &o.stderr}, {"tty", &o.tty}} {
		if *p.to, err = boolParam(q, p.name); err != nil {
			return o, err
		}
	}
	o.command = q["command"]
	if withCommand && len(o.command) == 0 {
		return o, apierrors.NewBadRequest("you must specify at least one command for the container")
	}
	if !o.stdin && !o.stdout && !o.stderr {
		return o, apierrors.NewBadRequest("you must specify at least one of stdin, stdout, stderr")
	}
	if o.tty && o.stderr {
		// A terminal merges both outputs into one.
		o.stderr = false
	}
	return o, nil
}

// mode is how a client talks to a streaming endpoint.
type mode int

const (
	modeSPDY      mode = iota // SPDY, relayed to the runtime as it is
	modeWebSocket             // WebSocket channels, translated to SPDY
)

// clientMode checks the upgrade a client asks for. WebSocket clients must offer
// protocol; a refusal comes before any upgrade so that they may fall back to
// SPDY.
func clientMode(r *http.Request, protocol string) (mode, error) {
	switch p := upgrade.Protocol(r); {
	case !upgrade.IsUpgrade(r):
		return 0, apierrors.NewBadRequest("this endpoint needs a connection upgrade (WebSocket or SPDY/3.1)")
	case p == "websocket":
		if !offersProtocol(r, protocol) {
			return 0, apierrors.NewBadRequest(fmt.Sprintf("unsupported WebSocket protocols %q: this endpoint speaks %s", r.Header.Values("Sec-Websocket-Protocol"), protocol))
		}
		return modeWebSocket, nil
	case p == "spdy/3.1":
		return modeSPDY, nil
	default:
		return 0, apierrors.NewBadRequest(fmt.Sprintf("unsupported upgrade %q", r.Header.Get("Upgrade")))
	}
}

func (s *Server) serveExec(w http.ResponseWriter, r *http.Request)   { s.serveCommand(w, r, true) }
func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request) { s.serveCommand(w, r, false) }

// serveCommand runs exec (a new process in a container) or attach (to the
// container's own process) through the runtime's streaming server.
func (s *Server) serveCommand(w http.ResponseWriter, r *http.Request, exec bool) {
	ctx := r.Context()
	ns, pod, name := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	m, err := clientMode(r, protocolV5)
	if err != nil {
		writeStatus(w, err)
		return
	}
	// Past this point errors reach a WebSocket client in-band, after the
	// upgrade, as Kubernetes reports failures of the node's hop.
	fail := func(err error) {
		if m == modeWebSocket {
			s.failWebSocket(w, r, err)
			return
		}
		writeStatus(w, err)
	}
	o, err := parseCommandOptions(r.URL.Query(), exec)
	if err != nil {
		fail(err)
		return
	}
	id, err := s.runningContainer(ctx, ns, pod, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			err = &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusNotFound,
				Reason: metav1.StatusReasonNotFound, Message: fmt.Sprintf("container not found (%q)", name)}}
		}
		fail(err)
		return
	}
	var target string
	if exec {
		resp, err := s.cfg.Runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: id, Cmd: o.command, Tty: o.tty, Stdin: o.stdin, Stdout: o.stdout, Stderr: o.stderr})
		if err != nil {
			fail(apierrors.NewInternalError(fmt.Errorf("error executing command in container: %v", err)))
			return
		}
		target = resp.Url
	} else {
		resp, err := s.cfg.Runtime.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: id, Tty: o.tty, Stdin: o.stdin, Stdout: o.stdout, Stderr: o.stderr})
		if err != nil {
			fail(apierrors.NewInternalError(fmt.Errorf("error attaching to container: %v", err)))
			return
		}
		target = resp.Url
	}
	if m == modeSPDY {
		s.relay(w, r, target)
		return
	}
	s.translate(w, r, target, o)
}

// relay hands a SPDY client to the runtime's streaming server.
func (s *Server) relay(w http.ResponseWriter, r *http.Request, target string) {
	u, err := url.Parse(target)
	if err != nil {
		writeStatus(w, fmt.Errorf("the runtime's streaming address %q: %w", target, err))
		return
	}
	out, err := upgrade.OutRequest(r, target)
	if err != nil {
		writeStatus(w, err)
		return
	}
	conn, err := s.cfg.Dial(r.Context(), "tcp", u.Host)
	if err != nil {
		writeStatus(w, fmt.Errorf("reach the runtime's streaming server: %w", err))
		return
	}
	if err := upgrade.Forward(w, out, conn); err != nil {
		slog.Debug("relay to the runtime's streaming server", "err", err)
	}
}

var wsUpgrader = websocket.Upgrader{
	Subprotocols:    []string{protocolV5},
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
	// Only the API server reaches this endpoint (client certificates), never a
	// browser: the origin says nothing here.
	CheckOrigin: func(*http.Request) bool { return true },
}

// failWebSocket upgrades and reports err as the session's end.
func (s *Server) failWebSocket(w http.ResponseWriter, r *http.Request, err error) {
	ws, uerr := wsUpgrader.Upgrade(w, r, nil)
	if uerr != nil {
		return // the upgrader answered already
	}
	c := newChannelConn(ws)
	go c.readLoop()
	c.finish(statusOf(err))
}

// translate serves a WebSocket client: its channels become the streams of a
// SPDY session with the runtime, and the end of the command comes back as a
// Status on the error channel.
func (s *Server) translate(w http.ResponseWriter, r *http.Request, target string, o commandOptions) {
	u, err := url.Parse(target)
	if err != nil {
		s.failWebSocket(w, r, fmt.Errorf("the runtime's streaming address %q: %w", target, err))
		return
	}
	rt, err := spdy.NewRoundTripperWithConfig(spdy.RoundTripperConfig{UpgradeTransport: &http.Transport{DialContext: s.cfg.Dial}})
	if err != nil {
		s.failWebSocket(w, r, err)
		return
	}
	executor, err := remotecommand.NewSPDYExecutorForTransports(rt, rt, http.MethodPost, u)
	if err != nil {
		s.failWebSocket(w, r, err)
		return
	}
	ws, err := wsUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := newChannelConn(ws)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		c.readLoop()
		if c.readErr != nil {
			cancel() // the client is gone
		}
	}()
	opts := remotecommand.StreamOptions{Tty: o.tty}
	if o.stdin {
		opts.Stdin = c.stdinR
	}
	if o.stdout {
		opts.Stdout = c.writer(chanStdout)
	}
	if o.stderr {
		opts.Stderr = c.writer(chanStderr)
	}
	if o.tty {
		opts.TerminalSizeQueue = c
	}
	err = executor.StreamWithContext(ctx, opts)
	if err != nil && ctx.Err() != nil {
		ws.Close()
		return
	}
	c.finish(exitStatus(err))
}

// ports reads the ports of a port-forward query (repeated or comma-separated).
func ports(q url.Values) ([]int32, error) {
	var out []int32
	for _, v := range q["ports"] {
		for _, p := range splitComma(v) {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil || n == 0 {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("port %q is not a valid port number", p))
			}
			out = append(out, int32(n))
		}
	}
	return out, nil
}

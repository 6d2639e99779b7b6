package stream

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"tug/internal/nodeproxy/upgrade"
)

// Port-forward is SPDY end to end: the client opens a data and an error stream
// per connection, naming the port in their headers, and the runtime connects
// them to the port inside the pod's network. A WebSocket client sends the same
// SPDY bytes inside binary messages; they are unwrapped here.
const (
	portForwardProtocol = "portforward.k8s.io"
	// tunnelProtocol is the WebSocket protocol that carries SPDY.
	tunnelProtocol = "SPDY/3.1+" + portForwardProtocol
)

var tunnelUpgrader = websocket.Upgrader{
	Subprotocols:    []string{tunnelProtocol},
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
	CheckOrigin:     func(*http.Request) bool { return true },
}

func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ns, pod := r.PathValue("ns"), r.PathValue("pod")
	m, err := clientMode(r, tunnelProtocol)
	if err != nil {
		writeStatus(w, err)
		return
	}
	ps, err := ports(r.URL.Query())
	if err != nil {
		writeStatus(w, err)
		return
	}
	sb, err := s.readySandbox(ctx, ns, pod)
	if err != nil {
		writeStatus(w, err)
		return
	}
	resp, err := s.cfg.Runtime.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: sb, Port: ps})
	if err != nil {
		writeStatus(w, fmt.Errorf("port forward to pod %s/%s: %w", ns, pod, err))
		return
	}
	if m == modeSPDY {
		s.relay(w, r, resp.Url)
		return
	}
	s.tunnel(w, r, resp.Url)
}

// tunnel opens the SPDY session with the runtime, then upgrades the client to
// WebSocket and carries the session's bytes in binary messages both ways.
func (s *Server) tunnel(w http.ResponseWriter, r *http.Request, target string) {
	u, err := url.Parse(target)
	if err != nil {
		writeStatus(w, fmt.Errorf("the runtime's streaming address %q: %w", target, err))
		return
	}
	conn, err := s.cfg.Dial(r.Context(), "tcp", u.Host)
	if err != nil {
		writeStatus(w, fmt.Errorf("reach the runtime's streaming server: %w", err))
		return
	}
	out, err := http.NewRequest(http.MethodPost, target, nil)
	if err != nil {
		conn.Close()
		writeStatus(w, err)
		return
	}
	out.Header.Set("Connection", "Upgrade")
	out.Header.Set("Upgrade", "SPDY/3.1")
	out.Header.Set("X-Stream-Protocol-Version", portForwardProtocol)
	resp, up, err := upgrade.Handshake(conn, out, 30*time.Second)
	if err != nil {
		conn.Close()
		writeStatus(w, err)
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		upgrade.CopyResponse(w, resp)
		return
	}
	ws, err := tunnelUpgrader.Upgrade(w, r, nil)
	if err != nil {
		up.Close()
		return
	}
	joinTunnel(ws, up)
}

// joinTunnel copies between the WebSocket's binary messages and raw until
// either side ends, then closes both.
func joinTunnel(ws *websocket.Conn, raw net.Conn) {
	var once sync.Once
	end := func() {
		once.Do(func() {
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			ws.Close()
			raw.Close()
		})
	}
	defer end()
	go func() {
		defer end()
		for {
			mt, rd, err := ws.NextReader()
			if err != nil {
				return
			}
			if mt != websocket.BinaryMessage {
				continue
			}
			if _, err := io.Copy(raw, rd); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := raw.Read(buf)
		if n > 0 {
			_ = ws.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
			if werr := ws.WriteMessage(websocket.BinaryMessage, buf[:n]); werr != nil {
				slog.Debug("port-forward tunnel write", "err", werr)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func splitComma(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

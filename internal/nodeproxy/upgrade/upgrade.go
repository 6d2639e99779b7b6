// Package upgrade relays HTTP requests that switch protocols (SPDY, WebSocket)
// across one hop: the request goes on over a connection of the caller's
// choosing and, once the far side switches, the two connections are joined byte
// for byte. The API server uses it towards node agents, and node agents towards
// the container runtime's streaming server.
package upgrade

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// IsUpgrade reports whether r asks to switch protocols.
func IsUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "upgrade") {
				return r.Header.Get("Upgrade") != ""
			}
		}
	}
	return false
}

// Protocol is the protocol r upgrades to, lower case ("websocket", "spdy/3.1").
func Protocol(r *http.Request) string {
	return strings.ToLower(strings.TrimSpace(r.Header.Get("Upgrade")))
}

// Handshake writes req on conn and reads the answer. When the answer switches
// protocols, the returned connection reads first whatever followed the answer
// on the wire; otherwise the answer's body reads from conn, which the caller
// closes after reading it.
func Handshake(conn net.Conn, req *http.Request, timeout time.Duration) (*http.Response, net.Conn, error) {
	if timeout > 0 {
		_ = conn.SetDeadline(time.Now().Add(timeout))
	}
	if err := req.Write(conn); err != nil {
		return nil, nil, fmt.Errorf("send upgrade request: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, nil, fmt.Errorf("read upgrade answer: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return resp, conn, nil
	}
	return resp, &bufferedConn{Conn: conn, r: br}, nil
}

// bufferedConn reads what a bufio.Reader already holds before the connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes when the underlying connection can.
func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// OutRequest builds the request that continues r towards target: the same
// method, the upgrade headers and the client's protocol headers, none of its
// credentials.
func OutRequest(r *http.Request, target string) (*http.Request, error) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target, nil)
	if err != nil {
		return nil, err
	}
	CopyHeaders(out.Header, r.Header)
	if IsUpgrade(r) {
		out.Header.Set("Connection", "Upgrade")
		out.Header.Set("Upgrade", r.Header.Get("Upgrade"))
	}
	return out, nil
}

// CopyHeaders adds the headers of src that go on past a hop to dst.
func CopyHeaders(dst, src http.Header) {
	for k, vs := range src {
		if dropHeader(k) {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
}

// dropHeader says which client headers stop at this hop: credentials,
// impersonation and the hop-by-hop headers.
func dropHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Authorization", "Proxy-Authorization", "Cookie", "Connection", "Upgrade", "Keep-Alive",
		"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Content-Length":
		return true
	}
	return strings.HasPrefix(http.CanonicalHeaderKey(k), "Impersonate-")
}

// Forward sends the upgrade request out over conn and relays the answer to w: a
// refusal as an ordinary response, a switch by handing the client the answer
// and joining the two connections until either ends. conn is closed when
// Forward returns.
func Forward(w http.ResponseWriter, out *http.Request, conn net.Conn) error {
	resp, up, err := Handshake(conn, out, 30*time.Second)
	if err != nil {
		conn.Close()
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		CopyResponse(w, resp)
		return nil
	}
	client, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return fmt.Errorf("take over the client connection: %w", err)
	}
	_ = client.SetDeadline(time.Time{})
	var head strings.Builder
	fmt.Fprintf(&head, "HTTP/1.1 101 Switching Protocols\r\n")
	_ = resp.Header.Write(&head)
	head.WriteString("\r\n")
	if _, err := io.WriteString(client, head.String()); err != nil {
		client.Close()
		up.Close()
		return err
	}
	// Bytes the client sent right after its request wait in the server's buffer.
	var from net.Conn = client
	if buf != nil && buf.Reader.Buffered() > 0 {
		from = &bufferedConn{Conn: client, r: buf.Reader}
	}
	Join(from, up)
	return nil
}

// CopyResponse writes resp (status, headers, body) to w and closes its body.
func CopyResponse(w http.ResponseWriter, resp *http.Response) {
	defer resp.Body.Close()
	CopyHeaders(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// Join copies between a and b in both directions until either direction ends,
// then closes both.
func Join(a, b net.Conn) {
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			a.Close()
			b.Close()
		})
	}
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		// A clean end of one direction is passed on as a half-close, so that the
		// other direction can still finish (a client done sending may still read).
		if err == nil || errors.Is(err, io.EOF) {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				done <- struct{}{}
				return
			}
		}
		closeBoth()
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	// The other direction gets a moment to drain after a half-close, then both end.
	select {
	case <-done:
	case <-time.After(halfCloseGrace):
	}
	closeBoth()
}

// halfCloseGrace bounds how long a joined pair stays half open.
var halfCloseGrace = 10 * time.Second

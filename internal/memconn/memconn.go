// Package memconn connects two parts of one process with in-memory connections: a
// net.Listener whose Dial hands the other end of a buffered pipe to Accept. The
// in-process control plane (scheduler, controllers) reaches the API server through
// it, with the same HTTP API as any client but without encryption, sockets or
// system calls.
package memconn

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Listener is an in-memory net.Listener.
type Listener struct {
	conns  chan net.Conn
	done   chan struct{}
	once   sync.Once
	name   string
	mu     sync.Mutex
	active map[*conn]struct{}
}

// Listen returns a listener named name (its address).
func Listen(name string) *Listener {
	return &Listener{conns: make(chan net.Conn), done: make(chan struct{}), name: name, active: map[*conn]struct{}{}}
}

// Accept waits for the next Dial.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes every connection made through the listener.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	l.mu.Lock()
	conns := make([]*conn, 0, len(l.active))
	for c := range l.active {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return nil
}

// Addr is the listener's name.
func (l *Listener) Addr() net.Addr { return addr(l.name) }

// Dial connects to the listener. network and address are ignored (it has the
// signature of net.Dialer.DialContext).
func (l *Listener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	a, b := newPipe(), newPipe()
	client := &conn{r: a, w: b, local: addr("client"), remote: addr(l.name)}
	server := &conn{r: b, w: a, local: addr(l.name), remote: addr("client")}
	client.peer, server.peer = server, client
	l.track(client, server)
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *Listener) track(cs ...*conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cs {
		c.l = l
		l.active[c] = struct{}{}
	}
}

func (l *Listener) untrack(c *conn) {
	l.mu.Lock()
	delete(l.active, c)
	l.mu.Unlock()
}

var eof = io.EOF

type addr string

func (a addr) Network() string { return "memory" }
func (a addr) String() string  { return string(a) }

// pipe is one direction: writes append to a buffer that reads drain. Writes never
// block: HTTP/2 flow control bounds what is in flight.
type pipe struct {
	mu       sync.Mutex
	cond     *sync.Cond
	buf      []byte
	off      int
	closed   bool
	deadline time.Time
	timer    *time.Timer
}

func newPipe() *pipe {
	p := &pipe{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *pipe) read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.off == len(p.buf) {
		if p.closed {
			return 0, eof
		}
		if !p.deadline.IsZero() && !time.Now().Before(p.deadline) {
			return 0, os.ErrDeadlineExceeded
		}
		p.cond.Wait()
	}
	n := copy(b, p.buf[p.off:])
	p.off += n
	if p.off == len(p.buf) {
		p.buf, p.off = p.buf[:0], 0
	}
	return n, nil
}

func (p *pipe) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, net.ErrClosed
	}
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	return len(b), nil
}

func (p *pipe) close() {
	p.mu.Lock()
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pipe) setDeadline(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deadline = t
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if !t.IsZero() {
		p.timer = time.AfterFunc(time.Until(t), func() {
			p.mu.Lock()
			p.cond.Broadcast()
			p.mu.Unlock()
		})
	}
	p.cond.Broadcast()
}

type conn struct {
	r, w          *pipe
	local, remote net.Addr
	peer          *conn
	l             *Listener
	once          sync.Once
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.r.read(b)
	return n, err
}

func (c *conn) Write(b []byte) (int, error) { return c.w.write(b) }

// Close ends both directions, like closing a socket.
func (c *conn) Close() error {
	c.once.Do(func() {
		c.r.close()
		c.w.close()
		if c.l != nil {
			c.l.untrack(c)
		}
	})
	return nil
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) SetDeadline(t time.Time) error {
	c.r.setDeadline(t)
	return nil
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.r.setDeadline(t)
	return nil
}

// SetWriteDeadline is accepted and ignored: writes never block.
func (c *conn) SetWriteDeadline(time.Time) error { return nil }

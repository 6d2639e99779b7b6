package stream

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// The WebSocket channel protocol of exec and attach (v5.channel.k8s.io): every
// binary message starts with the number of the channel it belongs to.
const (
	protocolV5 = "v5.channel.k8s.io"

	chanStdin  byte = 0
	chanStdout byte = 1
	chanStderr byte = 2
	chanError  byte = 3 // one Status object: how the command ended
	chanResize byte = 4 // {"Width":W,"Height":H} terminal sizes
	chanClose  byte = 255
	// A message on chanClose names the channel its sender is done writing.
)

// wsWriteTimeout bounds one write to a client that stopped reading.
const wsWriteTimeout = time.Minute

// offersProtocol reports whether a WebSocket request offers protocol.
func offersProtocol(r *http.Request, protocol string) bool {
	for _, v := range r.Header.Values("Sec-Websocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) == protocol {
				return true
			}
		}
	}
	return false
}

// channelConn is the server's end of a v5 channel connection: it splits what
// the client sends into stdin and terminal sizes, and tags what goes back with
// its channel.
type channelConn struct {
	ws *websocket.Conn

	wmu sync.Mutex // one writer at a time

	stdinR *io.PipeReader
	stdinW *io.PipeWriter
	sizes  chan remotecommand.TerminalSize
	// done is closed when the client's side ends (read error or close).
	done chan struct{}
	// readErr is why reading stopped (nil for a normal close).
	readErr error
}

func newChannelConn(ws *websocket.Conn) *channelConn {
	c := &channelConn{ws: ws, sizes: make(chan remotecommand.TerminalSize, 8), done: make(chan struct{})}
	c.stdinR, c.stdinW = io.Pipe()
	return c
}

// readLoop dispatches the client's messages until the connection ends. It must
// run for pings to be answered.
func (c *channelConn) readLoop() {
	defer close(c.done)
	defer close(c.sizes)
	defer c.stdinW.Close()
	var one [1]byte
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
				c.readErr = err
			}
			return
		}
		if mt != websocket.BinaryMessage {
			continue
		}
		if _, err := io.ReadFull(r, one[:]); err != nil {
			continue // an empty message
		}
		switch one[0] {
		case chanStdin:
			// Writes fail once stdin is closed; what follows is dropped.
			_, _ = io.Copy(c.stdinW, r)
		case chanResize:
			b, err := io.ReadAll(io.LimitReader(r, 4096))
			if err != nil {
				continue
			}
			dec := json.NewDecoder(strings.NewReader(string(b)))
			for {
				var sz remotecommand.TerminalSize
				if err := dec.Decode(&sz); err != nil {
					break
				}
				c.pushSize(sz)
			}
		case chanClose:
			if _, err := io.ReadFull(r, one[:]); err == nil && one[0] == chanStdin {
				c.stdinW.Close()
			}
		}
	}
}

// pushSize queues a terminal size, dropping the oldest when the runtime is
// slow to take them (only the latest size matters).
func (c *channelConn) pushSize(sz remotecommand.TerminalSize) {
	for {
		select {
		case c.sizes <- sz:
			return
		default:
		}
		select {
		case <-c.sizes:
		default:
		}
	}
}

// Next is the terminal size queue of the session (nil once the client is gone).
func (c *channelConn) Next() *remotecommand.TerminalSize {
	sz, ok := <-c.sizes
	if !ok {
		return nil
	}
	return &sz
}

// writeChannel sends p on channel ch as one message.
func (c *channelConn) writeChannel(ch byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	w, err := c.ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte{ch}); err != nil {
		w.Close()
		return err
	}
	if _, err := w.Write(p); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// writer is an io.Writer onto one channel.
func (c *channelConn) writer(ch byte) io.Writer { return channelWriter{c, ch} }

type channelWriter struct {
	c  *channelConn
	ch byte
}

func (w channelWriter) Write(p []byte) (int, error) {
	if err := w.c.writeChannel(w.ch, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// finish sends how the session ended and closes the connection, giving the
// client a moment to read everything and answer the close.
func (c *channelConn) finish(st *metav1.Status) {
	if b, err := json.Marshal(st); err == nil {
		_ = c.writeChannel(chanError, b)
	}
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(5*time.Second))
	c.wmu.Unlock()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
	c.ws.Close()
}

// exitStatus is the Status that tells the client how a command ended: success,
// a non-zero exit code (which kubectl exits with), or another failure.
func exitStatus(err error) *metav1.Status {
	st := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}}
	var code utilexec.CodeExitError
	var ecode *utilexec.CodeExitError
	switch {
	case err == nil:
		st.Status = metav1.StatusSuccess
		st.Code = http.StatusOK
		return st
	case errors.As(err, &code):
		return nonZeroExit(code.Code)
	case errors.As(err, &ecode):
		return nonZeroExit(ecode.Code)
	}
	return statusOf(err)
}

func nonZeroExit(code int) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  "command terminated with exit code " + strconv.Itoa(code),
		Reason:   remotecommandNonZeroExit,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
			Type: remotecommandExitCodeCause, Message: strconv.Itoa(code),
		}}},
	}
}

// Names the channel protocol uses for an exit code.
const (
	remotecommandNonZeroExit   metav1.StatusReason = "NonZeroExitCode"
	remotecommandExitCodeCause metav1.CauseType    = "ExitCode"
)

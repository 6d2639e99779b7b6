package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// InProcessTransport is how components running in this process (scheduler,
// controllers) reach the API: each request goes through the same handler chain as
// any client's (authentication by InProcessTokens, authorization, admission), but
// is handed to it directly instead of being framed as HTTP/2, written to a
// connection and parsed back. A request runs on the caller's goroutine and its
// response is buffered; a watch (or a followed log) runs on its own goroutine and
// streams through a pipe until the caller closes the body.
func (s *Server) InProcessTransport() http.RoundTripper {
	return &inProcessTransport{h: s.h}
}

type inProcessTransport struct{ h http.Handler }

func (t *inProcessTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	ctx, cancel := context.WithCancel(context.WithValue(req.Context(), inProcessKey{}, true))
	r := req.Clone(ctx)
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "in-process"
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	if streams(r) {
		return t.stream(req, r, cancel)
	}
	defer cancel()
	defer func() {
		// A handler that aborts its request (http.ErrAbortHandler, which the
		// recovery middleware passes on) fails this request, not the caller.
		if v := recover(); v != nil {
			resp, err = nil, fmt.Errorf("in-process request %s %s aborted: %v", req.Method, req.URL.Path, v)
		}
	}()
	w := &bufferedResponse{header: http.Header{}}
	t.h.ServeHTTP(w, r)
	if req.Body != nil {
		req.Body.Close()
	}
	return w.response(req), nil
}

// streams reports whether the answer to r goes on until the client stops it.
func streams(r *http.Request) bool {
	q := r.URL.Query()
	return isTrue(q.Get("watch")) || isTrue(q.Get("follow")) || strings.Contains(r.URL.Path, "/watch/")
}

func isTrue(v string) bool { return v == "true" || v == "1" }

func (t *inProcessTransport) stream(req, r *http.Request, cancel context.CancelFunc) (*http.Response, error) {
	pr, pw := io.Pipe()
	w := &streamResponse{header: http.Header{}, pw: pw, started: make(chan struct{})}
	go func() {
		defer cancel()
		defer pw.Close()
		defer w.start(http.StatusOK) // a handler that wrote nothing
		defer func() {
			if v := recover(); v != nil {
				pw.CloseWithError(fmt.Errorf("in-process request %s %s aborted: %v", req.Method, req.URL.Path, v))
			}
		}()
		t.h.ServeHTTP(w, r)
	}()
	select {
	case <-w.started:
	case <-req.Context().Done():
		cancel()
		pr.Close()
		return nil, req.Context().Err()
	}
	return &http.Response{
		Status: statusLine(w.code), StatusCode: w.code, Header: w.sent,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body: &cancelOnClose{ReadCloser: pr, cancel: cancel}, ContentLength: -1, Request: req,
	}, nil
}

func statusLine(code int) string { return fmt.Sprintf("%d %s", code, http.StatusText(code)) }

// bufferedResponse collects a handler's answer.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *bufferedResponse) Header() http.Header { return w.header }
func (w *bufferedResponse) Flush()              {}

func (w *bufferedResponse) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *bufferedResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

func (w *bufferedResponse) response(req *http.Request) *http.Response {
	w.WriteHeader(http.StatusOK)
	return &http.Response{
		Status: statusLine(w.code), StatusCode: w.code, Header: w.header,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body: io.NopCloser(bytes.NewReader(w.body.Bytes())), ContentLength: int64(w.body.Len()), Request: req,
	}
}

// streamResponse passes a handler's answer through a pipe as it is written.
type streamResponse struct {
	header  http.Header
	pw      *io.PipeWriter
	once    sync.Once
	started chan struct{}
	code    int
	sent    http.Header
}

func (w *streamResponse) Header() http.Header { return w.header }
func (w *streamResponse) Flush()              {}

func (w *streamResponse) start(code int) {
	w.once.Do(func() {
		w.code, w.sent = code, w.header.Clone()
		close(w.started)
	})
}

func (w *streamResponse) WriteHeader(code int) { w.start(code) }

func (w *streamResponse) Write(p []byte) (int, error) {
	w.start(http.StatusOK)
	return w.pw.Write(p)
}

// cancelOnClose ends the handler's request when the client closes the body, as
// resetting an HTTP/2 stream would.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	c.cancel()
	return c.ReadCloser.Close()
}

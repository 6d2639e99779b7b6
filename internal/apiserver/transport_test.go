package apiserver

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestInProcessTransport: requests reach the handler marked as in-process, with
// their body; answers come back whole; a watch streams as it is written and ends
// (its handler's context is cancelled) when the client closes the body.
func TestInProcessTransport(t *testing.T) {
	handlerDone := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(inProcessKey{}) == nil {
			http.Error(w, "not marked in-process", http.StatusTeapot)
			return
		}
		if r.URL.Query().Get("watch") == "true" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			for i := 0; ; i++ {
				if _, err := io.WriteString(w, "event\n"); err != nil {
					handlerDone <- err
					return
				}
				select {
				case <-r.Context().Done():
					handlerDone <- r.Context().Err()
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
		if r.URL.Path == "/abort" {
			panic(http.ErrAbortHandler)
		}
		if r.URL.Path == "/missing" {
			http.Error(w, "gone", http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(append([]byte("got "), body...))
	})
	rt := &inProcessTransport{h: h}

	req, _ := http.NewRequest(http.MethodPost, "http://in-process/api/v1/namespaces/ns/pods", strings.NewReader("pod"))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || string(b) != "got pod" || resp.Header.Get("X-Method") != "POST" || resp.ContentLength != 7 {
		t.Fatalf("unary: %d %q %v", resp.StatusCode, b, resp.Header)
	}

	req, _ = http.NewRequest(http.MethodGet, "http://in-process/missing", nil)
	if resp, err = rt.RoundTrip(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("error answer: %v %v", err, resp)
	}

	req, _ = http.NewRequest(http.MethodGet, "http://in-process/abort", nil)
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("an aborted request should fail")
	}

	req, _ = http.NewRequest(http.MethodGet, "http://in-process/api/v1/pods?watch=true", nil)
	resp, err = rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("watch: %d %v", resp.StatusCode, resp.Header)
	}
	lines := bufio.NewScanner(resp.Body)
	for i := 0; i < 3; i++ {
		if !lines.Scan() || lines.Text() != "event" {
			t.Fatalf("watch line %d: %q %v", i, lines.Text(), lines.Err())
		}
	}
	resp.Body.Close()
	select {
	case err := <-handlerDone:
		if err == nil {
			t.Fatal("watch handler ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("closing the watch's body did not end its handler")
	}
}

package memconn

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHTTP2OverMemory serves unencrypted HTTP/2 through the listener: concurrent
// requests share a connection, a streamed answer arrives piece by piece, and closing
// the listener ends everything.
func TestHTTP2OverMemory(t *testing.T) {
	l := Listen("test")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "chunk%d\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(10 * time.Millisecond)
			}
			return
		}
		fmt.Fprintf(w, "%s %s", r.Proto, r.URL.Path)
	})}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(l)
	defer srv.Close()
	tr := &http.Transport{DialContext: l.Dial, Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := client.Get(fmt.Sprintf("http://mem/p%d", i))
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != fmt.Sprintf("HTTP/2.0 /p%d", i) {
				errs <- fmt.Errorf("request %d got %q", i, b)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	resp, err := client.Get("http://mem/stream")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Count(string(b), "chunk") != 3 {
		t.Fatalf("stream: %q", b)
	}
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := l.Dial(ctx, "", ""); err == nil {
		t.Fatal("dial after close succeeded")
	}
}

func TestReadDeadline(t *testing.T) {
	l := Listen("d")
	go func() { c, _ := l.Accept(); _ = c }()
	c, err := l.Dial(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	_, err = c.Read(make([]byte, 1))
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("read past the deadline: %v after %s", err, time.Since(start))
	}
}

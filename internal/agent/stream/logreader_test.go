package stream

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseLogEntry(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
	cases := []struct {
		line    string
		want    logEntry
		wantErr bool
	}{
		{line: "2024-05-01T10:00:00.123456789Z stdout F hello world", want: logEntry{time: ts, stream: "stdout", msg: []byte("hello world")}},
		{line: "2024-05-01T10:00:00.123456789Z stderr P part", want: logEntry{time: ts, stream: "stderr", partial: true, msg: []byte("part")}},
		{line: "2024-05-01T10:00:00.123456789Z stdout F ", want: logEntry{time: ts, stream: "stdout", msg: []byte{}}},
		{line: "2024-05-01T10:00:00.123456789Z stdout F", want: logEntry{time: ts, stream: "stdout"}},
		{line: "2024-05-01T10:00:00.123456789Z stdout F:extra  two  spaces ", want: logEntry{time: ts, stream: "stdout", msg: []byte(" two  spaces ")}},
		{line: "2024-05-01T12:00:00.123456789+02:00 stdout F zone", want: logEntry{time: ts, stream: "stdout", msg: []byte("zone")}},
		{line: "not a time stdout F x", wantErr: true},
		{line: "2024-05-01T10:00:00Z stdin F x", wantErr: true},
		{line: "2024-05-01T10:00:00Z stdout X x", wantErr: true},
		{line: "2024-05-01T10:00:00Z", wantErr: true},
		{line: "", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			got, err := parseLogEntry([]byte(tc.line))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.time.Equal(tc.want.time) || got.stream != tc.want.stream || got.partial != tc.want.partial || !bytes.Equal(got.msg, tc.want.msg) {
				t.Errorf("got %+v (msg %q), want %+v (msg %q)", got, got.msg, tc.want, tc.want.msg)
			}
		})
	}
}

// criLog renders entries as a runtime writes them, one second apart from base.
func criLog(base time.Time, entries ...string) string {
	var b strings.Builder
	for i, e := range entries {
		stream, tag, msg := "stdout", "F", e
		if rest, ok := strings.CutPrefix(e, "E:"); ok {
			stream, msg = "stderr", rest
		}
		if rest, ok := strings.CutPrefix(msg, "P:"); ok {
			tag, msg = "P", rest
		}
		b.WriteString(base.Add(time.Duration(i)*time.Second).Format("2006-01-02T15:04:05.000000000Z07:00") + " " + stream + " " + tag + " " + msg + "\n")
	}
	return b.String()
}

func writeLog(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadLog(t *testing.T) {
	base := time.Date(2024, 5, 1, 10, 0, 0, 500, time.UTC)
	log := criLog(base, "one", "E:two", "P:thr", "P:e", "e", "four", "", "five")
	cases := []struct {
		name string
		opts LogOptions
		want string
	}{
		{"everything", LogOptions{TailLines: -1}, "one\ntwo\nthree\nfour\n\nfive\n"},
		{"tail 2", LogOptions{TailLines: 2}, "\nfive\n"},
		{"tail 0", LogOptions{TailLines: 0}, ""},
		{"tail beyond the start", LogOptions{TailLines: 100}, "one\ntwo\nthree\nfour\n\nfive\n"},
		// A long line split by the runtime: the tail counts the file's lines.
		{"tail into a split line", LogOptions{TailLines: 4}, "e\nfour\n\nfive\n"},
		{"since", LogOptions{TailLines: -1, Since: base.Add(5 * time.Second)}, "four\n\nfive\n"},
		{"since and tail", LogOptions{TailLines: 2, Since: base.Add(7 * time.Second)}, "five\n"},
		{"timestamps", LogOptions{TailLines: 2, Timestamps: true},
			"2024-05-01T10:00:06.0000005Z \n2024-05-01T10:00:07.0000005Z five\n"},
		{"timestamps once per line", LogOptions{TailLines: -1, Timestamps: true, Since: base.Add(2 * time.Second)},
			"2024-05-01T10:00:02.0000005Z three\n2024-05-01T10:00:05.0000005Z four\n2024-05-01T10:00:06.0000005Z \n2024-05-01T10:00:07.0000005Z five\n"},
		{"limit bytes", LogOptions{TailLines: -1, LimitBytes: 6}, "one\ntw"},
		{"limit bytes beyond the log", LogOptions{TailLines: -1, LimitBytes: 1000}, "one\ntwo\nthree\nfour\n\nfive\n"},
		{"limit bytes with timestamps", LogOptions{TailLines: 1, LimitBytes: 10, Timestamps: true}, "2024-05-01"},
	}
	p := writeLog(t, log)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := ReadLog(ctx, p, tc.opts, &out, nil, nil); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestReadLogSkipsForeignLines(t *testing.T) {
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	p := writeLog(t, criLog(base, "a")+"garbage line\n"+criLog(base, "b"))
	var out bytes.Buffer
	if err := ReadLog(context.Background(), p, LogOptions{TailLines: -1}, &out, nil, nil); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a\nb\n" {
		t.Errorf("got %q", out.String())
	}
}

func TestTailOffset(t *testing.T) {
	long := strings.Repeat("x", 70<<10) // longer than one backwards read
	cases := []struct {
		name    string
		content string
		n       int64
		want    int64
	}{
		{"empty", "", 3, 0},
		{"all lines", "a\nb\n", 5, 0},
		{"last line", "a\nb\n", 1, 2},
		{"none", "a\nb\n", 0, 4},
		{"unfinished last line counts", "a\nb\nc", 1, 4},
		{"across chunks", "a\n" + long + "\nz\n", 2, 2},
		{"long last line", "a\n" + long + "\n", 1, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tailOffset(strings.NewReader(tc.content), int64(len(tc.content)), tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("offset %d, want %d", got, tc.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReadLogFollow(t *testing.T) {
	old := followPoll
	followPoll = 10 * time.Millisecond
	defer func() { followPoll = old }()
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	p := writeLog(t, criLog(base, "first"))
	var alive atomic.Bool
	alive.Store(true)
	out := &syncBuffer{}
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		done <- ReadLog(ctx, p, LogOptions{Follow: true, TailLines: -1}, out, nil, alive.Load)
	}()
	waitFor(t, "the first line", func() bool { return out.String() == "first\n" })

	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A line written in two pieces is passed on once it is complete.
	line := criLog(base.Add(time.Second), "second")
	_, _ = f.WriteString(line[:20])
	time.Sleep(50 * time.Millisecond)
	if got := out.String(); got != "first\n" {
		t.Fatalf("half a line came out: %q", got)
	}
	_, _ = f.WriteString(line[20:])
	waitFor(t, "the second line", func() bool { return out.String() == "first\nsecond\n" })

	// Rotation: the file moves away, a new one takes its place; the old one is
	// read to its end first.
	_, _ = f.WriteString(criLog(base.Add(2*time.Second), "third"))
	f.Close()
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(criLog(base.Add(3*time.Second), "fourth")), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rotated lines", func() bool { return out.String() == "first\nsecond\nthird\nfourth\n" })

	// What the container writes just before it stops is still copied.
	f, err = os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(criLog(base.Add(4*time.Second), "last"))
	f.Close()
	alive.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end after the container stopped")
	}
	if got := out.String(); got != "first\nsecond\nthird\nfourth\nlast\n" {
		t.Errorf("got %q", got)
	}
}

func TestReadLogFollowEndsWithContext(t *testing.T) {
	old := followPoll
	followPoll = 10 * time.Millisecond
	defer func() { followPoll = old }()
	p := writeLog(t, criLog(time.Now(), "x"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ReadLog(ctx, p, LogOptions{Follow: true, TailLines: -1}, &syncBuffer{}, nil, func() bool { return true })
	}()
	time.Sleep(30 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end with its context")
	}
}

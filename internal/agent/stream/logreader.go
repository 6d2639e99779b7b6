package stream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// A CRI log file holds one entry per line:
//
//	2024-05-01T10:00:00.123456789Z stdout F the message
//
// the time the runtime read the output, the stream, P for a piece of a longer
// line (the line goes on in the next entry) or F for the end of a line, and the
// bytes the container wrote (without the newline).

// logEntry is one line of a CRI log file.
type logEntry struct {
	time    time.Time
	stream  string
	partial bool
	msg     []byte
}

// parseLogEntry splits one line of a CRI log file (without its newline).
func parseLogEntry(line []byte) (logEntry, error) {
	var e logEntry
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return e, fmt.Errorf("log line %q has no stream", truncate(line))
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return e, fmt.Errorf("log line %q: bad time: %w", truncate(line), err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != "stdout" && string(stream) != "stderr") {
		return e, fmt.Errorf("log line %q has no stream", truncate(line))
	}
	tag, msg, _ := bytes.Cut(rest, []byte{' '})
	// The tag may carry more fields after ':'; only the first says whether the
	// line goes on.
	flag, _, _ := bytes.Cut(tag, []byte{':'})
	switch string(flag) {
	case "P":
		e.partial = true
	case "F":
	default:
		return e, fmt.Errorf("log line %q has an unknown tag %q", truncate(line), tag)
	}
	e.time, e.stream, e.msg = t, string(stream), msg
	return e, nil
}

func truncate(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// LogOptions select the part of a container's log that is written and how.
type LogOptions struct {
	// Follow keeps writing what the container writes until it stops running.
	Follow bool
	// TailLines, when not negative, starts that many lines before the end.
	TailLines int64
	// Since skips entries older than this time (zero: none).
	Since time.Time
	// Timestamps starts every line with the time it was written.
	Timestamps bool
	// LimitBytes, when positive, stops after that many bytes.
	LimitBytes int64
}

// errLimitReached ends a copy once LimitBytes were written.
var errLimitReached = errors.New("log byte limit reached")

// logWriter turns log entries into the bytes a user reads.
type logWriter struct {
	w          io.Writer
	opts       LogOptions
	written    int64
	midLine    bool // the last entry was partial: no timestamp before the next
	timeBuffer []byte
}

func (lw *logWriter) write(e logEntry) error {
	if !lw.opts.Since.IsZero() && e.time.Before(lw.opts.Since) {
		return nil
	}
	if lw.opts.Timestamps && !lw.midLine {
		lw.timeBuffer = e.time.AppendFormat(lw.timeBuffer[:0], time.RFC3339Nano)
		lw.timeBuffer = append(lw.timeBuffer, ' ')
		if err := lw.out(lw.timeBuffer); err != nil {
			return err
		}
	}
	if err := lw.out(e.msg); err != nil {
		return err
	}
	lw.midLine = e.partial
	if !e.partial {
		return lw.out([]byte{'\n'})
	}
	return nil
}

func (lw *logWriter) out(b []byte) error {
	if lw.opts.LimitBytes > 0 {
		left := lw.opts.LimitBytes - lw.written
		if int64(len(b)) >= left {
			n, err := lw.w.Write(b[:left])
			lw.written += int64(n)
			if err != nil {
				return err
			}
			return errLimitReached
		}
	}
	n, err := lw.w.Write(b)
	lw.written += int64(n)
	return err
}

// tailOffset returns the offset in f at which its last n lines begin (n >= 0).
// It reads the file backwards, so a long log costs no more than its tail.
func tailOffset(f io.ReaderAt, size int64, n int64) (int64, error) {
	if n < 0 {
		return 0, nil
	}
	const chunk = 32 << 10
	buf := make([]byte, chunk)
	end := size
	// A complete file ends with a newline: that one closes the last line and
	// does not start another.
	seen := int64(-1)
	if size > 0 {
		if _, err := f.ReadAt(buf[:1], size-1); err != nil {
			return 0, err
		}
		if buf[0] != '\n' {
			seen = 0 // the last line is still being written; it counts
		}
	}
	for end > 0 {
		start := end - chunk
		if start < 0 {
			start = 0
		}
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && err != io.EOF {
			return 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' {
				continue
			}
			seen++
			if seen == n {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// followPoll is how often a followed log is checked for new entries.
var followPoll = 100 * time.Millisecond

// ReadLog writes the log at path to w as opts say. With Follow it keeps going
// until running reports that the container stopped and everything it wrote was
// copied, or until ctx ends. A log rotated away (renamed, a new file at path) is
// read to its end before the new one is opened. flush, if set, is called after
// each batch of writes.
func ReadLog(ctx context.Context, path string, opts LogOptions, w io.Writer, flush func(), running func() bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	if opts.TailLines >= 0 {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		off, err := tailOffset(f, st.Size(), opts.TailLines)
		if err != nil {
			return err
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return err
		}
	}
	if flush == nil {
		flush = func() {}
	}
	lw := &logWriter{w: w, opts: opts}
	r := bufio.NewReaderSize(f, 64<<10)
	var pending []byte // a line not complete yet (the runtime is writing it)
	copyAvailable := func() error {
		for {
			line, err := r.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				pending = append(pending, line...)
				continue
			}
			if err != nil {
				pending = append(pending, line...)
				if err == io.EOF {
					return nil
				}
				return err
			}
			if len(pending) > 0 {
				pending = append(pending, line...)
				line = pending
			}
			e, perr := parseLogEntry(bytes.TrimSuffix(line, []byte{'\n'}))
			pending = pending[:0]
			if perr != nil {
				continue // not a CRI line: skipped, as the rest is still readable
			}
			if err := lw.write(e); err != nil {
				return err
			}
		}
	}
	finish := func(err error) error {
		flush()
		if errors.Is(err, errLimitReached) {
			return nil
		}
		return err
	}
	if err := copyAvailable(); err != nil || !opts.Follow {
		return finish(err)
	}
	flush()
	t := time.NewTicker(followPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// Whether it still runs is asked before the last read, so that what it
		// wrote before stopping is copied.
		alive := running == nil || running()
		if err := copyAvailable(); err != nil {
			return finish(err)
		}
		if rotated(f, path) {
			nf, err := os.Open(path)
			if err == nil {
				f.Close()
				f = nf
				r.Reset(f)
				pending = pending[:0]
				if err := copyAvailable(); err != nil {
					return finish(err)
				}
			}
		}
		flush()
		if !alive {
			return nil
		}
	}
}

// rotated reports whether path now names another file than f.
func rotated(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	if err != nil {
		return false // removed, not replaced (yet)
	}
	as, ok1 := a.Sys().(*syscall.Stat_t)
	bs, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && (as.Ino != bs.Ino || as.Dev != bs.Dev)
}

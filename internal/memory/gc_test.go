package memory

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// gcPercent reads the current GOGC setting.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestTuneGCRaisesAboveThreshold(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tuneGC(ctx, 1, 5*time.Millisecond); close(done) }() // any live heap is above 1 byte
	deadline := time.Now().Add(5 * time.Second)
	for gcPercent() != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC still %d", gcPercent())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestTuneGCLeavesAnExplicitGOGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "100")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	tuneGC(ctx, 1, 5*time.Millisecond) // returns at once
	if p := gcPercent(); p != 100 {
		t.Fatalf("GOGC changed to %d", p)
	}
}

package memory

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// TuneGC lets the garbage collector run less often once the live heap is large:
// below threshold the usual GOGC=100 keeps a small server small; above it, GOGC=200
// halves collection work (a busy control plane spends a large share of its CPU
// there) for about a quarter more memory. An explicit GOGC in the environment wins.
func TuneGC(ctx context.Context, threshold uint64) {
	tuneGC(ctx, threshold, 2*time.Second)
}

func tuneGC(ctx context.Context, threshold uint64, every time.Duration) {
	if os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	high := false
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		live := sample[0].Value.Uint64()
		switch {
		case !high && live > threshold:
			debug.SetGCPercent(200)
			high = true
		case high && live < threshold/2:
			debug.SetGCPercent(100)
			high = false
		}
	}
}

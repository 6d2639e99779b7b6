package apiserver

import (
	"context"
	"time"
)

// contextUntil is ctx that also ends when done fires.
func contextUntil(ctx context.Context, done <-chan time.Time) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-done:
			cancel()
		case <-c.Done():
		}
	}()
	return c, cancel
}

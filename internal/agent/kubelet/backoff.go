package kubelet

import (
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Backoff is an exponential back-off per key: each Next doubles the delay up to
// a maximum, and a key left alone for twice the maximum starts over.
type Backoff struct {
	clock   clock.Clock
	initial time.Duration
	max     time.Duration

	mu      sync.Mutex
	entries map[string]*backoffEntry
}

type backoffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
}

// NewBackoff makes a back-off starting at initial and capped at max.
func NewBackoff(c clock.Clock, initial, max time.Duration) *Backoff {
	return &Backoff{clock: c, initial: initial, max: max, entries: map[string]*backoffEntry{}}
}

// Next records a new attempt for key and returns the delay that now applies.
func (b *Backoff) Next(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	e, ok := b.entries[key]
	if !ok || now.Sub(e.lastUpdate) > 2*b.max {
		e = &backoffEntry{delay: b.initial}
		b.entries[key] = e
	} else {
		e.delay = min(e.delay*2, b.max)
	}
	e.lastUpdate = now
	return e.delay
}

// Delay is the current delay of key (0 if it has none).
func (b *Backoff) Delay(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[key]; ok {
		return e.delay
	}
	return 0
}

// Remaining is how long, from now, key stays in back-off counted from since
// (the time the failure happened); zero or less means it may go again.
func (b *Backoff) Remaining(key string, since time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok {
		return 0
	}
	if b.clock.Now().Sub(e.lastUpdate) > 2*b.max {
		delete(b.entries, key)
		return 0
	}
	return e.delay - b.clock.Since(since)
}

// Reset forgets key.
func (b *Backoff) Reset(key string) {
	b.mu.Lock()
	delete(b.entries, key)
	b.mu.Unlock()
}

// ResetPrefix forgets every key starting with prefix (a pod going away).
func (b *Backoff) ResetPrefix(prefix string) {
	b.mu.Lock()
	for k := range b.entries {
		if strings.HasPrefix(k, prefix) {
			delete(b.entries, k)
		}
	}
	b.mu.Unlock()
}

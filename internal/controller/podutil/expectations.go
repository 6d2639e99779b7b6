package podutil

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// ExpectationsTimeout is how long a controller waits to observe its own creates and
// deletes before it acts again anyway (a watch event may have been missed).
const ExpectationsTimeout = 5 * time.Minute

// Expectations remembers, per controller key, how many creates and which deletes a
// controller has issued but not yet seen through its informers. While they are
// pending the controller must not count pods to decide how many to create or
// delete: its cache is behind its own writes.
type Expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	m     map[string]*expectation
}

type expectation struct {
	adds int
	dels map[types.UID]bool
	at   time.Time
}

// NewExpectations makes an empty set.
func NewExpectations(clk clock.PassiveClock) *Expectations {
	return &Expectations{clock: clk, m: map[string]*expectation{}}
}

// Satisfied reports whether the controller may count again: nothing is pending, or
// it has waited ExpectationsTimeout.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.dels) == 0 {
		return true
	}
	return e.clock.Since(x.at) > ExpectationsTimeout
}

// Pending returns the creates and deletes still expected.
func (e *Expectations) Pending(key string) (adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		return max(x.adds, 0), len(x.dels)
	}
	return 0, 0
}

// Expect records n creates and the UIDs about to be deleted, replacing anything
// pending for key.
func (e *Expectations) Expect(key string, adds int, dels []types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: adds, dels: map[types.UID]bool{}, at: e.clock.Now()}
	for _, u := range dels {
		x.dels[u] = true
	}
	e.m[key] = x
}

// ExpectCreations records n creates about to be issued.
func (e *Expectations) ExpectCreations(key string, n int) { e.Expect(key, n, nil) }

// ExpectDeletions records the UIDs of pods about to be deleted.
func (e *Expectations) ExpectDeletions(key string, uids []types.UID) { e.Expect(key, 0, uids) }

// CreationObserved lowers the pending creates by one (a create was seen, or failed
// and will not be seen).
func (e *Expectations) CreationObserved(key string) { e.CreationsObserved(key, 1) }

// CreationsObserved lowers the pending creates by n.
func (e *Expectations) CreationsObserved(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.adds -= n
	}
}

// DeletionObserved forgets one pending delete (the object was seen deleted or being
// deleted, or the delete failed).
func (e *Expectations) DeletionObserved(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.dels, uid)
	}
}

// Forget drops everything recorded for key (the controller was deleted).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

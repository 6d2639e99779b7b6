package loop

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"
)

func TestQueue(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name       string
		maxRetries int
		failures   int // reconcile fails this many times
		wantCalls  int // calls made while keys keep coming back
	}{
		{"success once", 0, 0, 1},
		{"retried until it works", 0, 2, 3},
		{"dropped after max retries", 2, 10, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := testclock.NewFakeClock(time.Unix(0, 0))
			q := New("test", clk)
			defer q.ShutDown()
			q.MaxRetries = tc.maxRetries
			calls := 0
			rec := func(_ context.Context, key string) error {
				calls++
				if key != "ns/a" {
					return fmt.Errorf("key %q", key)
				}
				if calls <= tc.failures {
					return errors.New("not yet")
				}
				return nil
			}
			q.Add("ns/a")
			q.Add("ns/a") // deduplicated
			for i := 0; i < 20; i++ {
				if q.Len() == 0 {
					// Failed keys come back after their backoff.
					clk.Step(time.Minute)
					deadline := time.Now().Add(200 * time.Millisecond)
					for q.Len() == 0 && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
					if q.Len() == 0 {
						break
					}
				}
				q.ProcessNext(ctx, rec)
			}
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
		})
	}
}

func TestDrain(t *testing.T) {
	q := New("drain", testclock.NewFakeClock(time.Unix(0, 0)))
	defer q.ShutDown()
	q.Add("a")
	q.Add("b")
	got := q.Drain(context.Background(), func(_ context.Context, key string) error {
		if key == "a" {
			q.Add("c")
		}
		return nil
	}, 10)
	if fmt.Sprint(got) != "[a b c]" {
		t.Errorf("drained %v", got)
	}
}

package podutil

import "sync"

// SlowStartBatch calls fn count times, in batches that double in size starting from
// initial (1, 2, 4, ...), the calls of a batch running concurrently. It stops after
// the first batch with a failure, so that a request the server refuses (a quota, a
// webhook) is not sent hundreds of times. It returns how many calls succeeded and
// the first error; count-successes-failures calls were never made.
func SlowStartBatch(count, initial int, fn func(i int) error) (int, error) {
	done := 0
	successes := 0
	for batch := min(count, max(initial, 1)); batch > 0; batch = min(2*batch, count-done) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var first error
		for i := 0; i < batch; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				err := fn(i)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if first == nil {
						first = err
					}
					return
				}
				successes++
			}(done + i)
		}
		wg.Wait()
		done += batch
		if first != nil {
			return successes, first
		}
	}
	return successes, nil
}

// Package scheduler places pods on nodes. It is a pipeline — queue → filters →
// scores → plan — in which every decision is a pure function of a cluster snapshot,
// the pod and the time; reading the cluster (informers into a Cache) and acting on
// it (bindings, status patches, victim deletions, events, all through a Planner)
// happen at the edges. The same decision code therefore runs under a test harness
// that records plans instead of talking to an API server.
//
// Files: queue.go (priority, backoff and unschedulable pods), cache.go (nodes and
// the pods on them, with pods assumed as soon as their binding is sent),
// filters.go, scores.go, affinity.go and spread.go (the placement rules),
// algorithm.go (filter, sample, score, pick), preempt.go (choosing victims),
// scheduler.go (the loop, informers and the API-server Planner).
package scheduler

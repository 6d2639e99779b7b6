// Package scheduler places pods on nodes. It is a pipeline — queue → filters →
// scores → plan — in which every decision is a pure function of a cluster snapshot,
// the pod and the time; reading the cluster (informers into a Cache) and acting on
// it (bindings, status patches, victim deletions, events, all through a Planner)
// happen at the edges. The same decision code therefore runs under a test harness
// that records plans instead of talking to an API server.
//
// Files: types.go and nodeinfo.go (what a pod asks for, what a node holds),
// queue.go (priority, backoff and unschedulable pods), cache.go (nodes and the
// pods on them, with pods assumed as soon as their binding is sent), filters.go,
// scores.go, affinity.go and spread.go (the placement rules), algorithm.go
// (filter a sample of the nodes, score, pick), preempt.go (choosing victims),
// scheduler.go (the loop and the Planner interface), planner.go (the Planner
// that talks to the API server), run.go (informers and leader election in
// `tug server`), metrics.go.
package scheduler

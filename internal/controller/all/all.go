// Package all links every controller into the controller manager. Each controller
// package registers itself from init(); add one import line per controller.
package all

import (
	_ "tug/internal/controller"                  // the manager itself
	_ "tug/internal/controller/certificates"     // CSR approval and signing
	_ "tug/internal/controller/cronjob"          // CronJobs: jobs on a schedule
	_ "tug/internal/controller/daemonset"        // DaemonSets: one pod per fitting node
	_ "tug/internal/controller/deployment"       // Deployment rollouts
	_ "tug/internal/controller/disruption"       // PodDisruptionBudget status
	_ "tug/internal/controller/garbagecollector" // cascading deletion by ownerReferences
	_ "tug/internal/controller/job"              // Jobs and the TTL-after-finished controller
	_ "tug/internal/controller/namespace"        // emptying namespaces being deleted
	_ "tug/internal/controller/nodelifecycle"    // pod CIDRs, silent nodes, taints and evictions
	_ "tug/internal/controller/replicaset"       // ReplicaSets and ReplicationControllers
	_ "tug/internal/controller/resourcequota"    // ResourceQuota status: hard and used
	_ "tug/internal/controller/serviceaccount"   // the default ServiceAccount of every namespace
	_ "tug/internal/controller/statefulset"      // StatefulSets: ordered pods with stable names and claims
)

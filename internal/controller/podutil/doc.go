// Package podutil holds what the workload controllers share about the pods and
// other objects they own: readiness and availability, which pods to delete first,
// building a pod from a template, controller ownerReferences with adoption and
// release, expectations (so that a controller does not act twice before it sees its
// own writes), slow-start batches of creates, and a stable hash of a template.
//
// It is used by the ReplicaSet, Deployment, DaemonSet, StatefulSet and Job
// controllers; keep its API small and stable.
package podutil

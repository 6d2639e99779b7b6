// Package garbagecollector deletes objects whose owners are gone, following
// metadata.ownerReferences, with the three propagation policies of a delete:
//
//   - background: the owner is deleted at once; its dependents are then found
//     without an owner and deleted;
//   - foreground: the owner stays, with the foregroundDeletion finalizer, until its
//     dependents that block it (blockOwnerDeletion) are gone; the collector deletes
//     them, then removes the finalizer;
//   - orphan: the owner stays, with the orphan finalizer, until the collector has
//     removed its ownerReference from every dependent; then it removes the
//     finalizer.
//
// It watches the metadata of every deletable resource (found through discovery, so
// custom resources are included) and keeps a graph from owner UIDs to dependents.
// An owner that was never seen is checked against the API server before its
// dependents are deleted.
package garbagecollector

// Package storage keeps API objects in etcd.
//
// Every object lives under one key, /registry/<group>/<resource>/[<namespace>/]<name>,
// encoded as Kubernetes protobuf. An object's resourceVersion is the etcd revision
// that last wrote it, so updates are compare-and-swap on that revision and a watch can
// resume from any revision etcd still holds.
//
// Reads that do not need etcd's latest word are served from an in-memory cache that
// one etcd watch over the whole /registry prefix keeps current. Because every revision
// is a write under that prefix, "the cache has seen revision R" is a simple wait, which
// makes consistent lists from memory cheap. Watches fan out from the same cache, and
// each stored version is encoded at most once per media type, however many watchers
// or lists send it.
package storage

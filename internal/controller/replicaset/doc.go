// Package replicaset keeps the number of pods of a ReplicaSet, and of its older
// twin the ReplicationController, equal to spec.replicas: it creates pods from the
// template, deletes the least useful ones on scale-down, adopts matching orphans,
// releases pods whose labels stop matching, and reports status.
//
// Both kinds run the same reconcile: a ReplicationController is read as a
// ReplicaSet (its map selector as matchLabels) and its status written back in its
// own type.
package replicaset

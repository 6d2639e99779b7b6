// Package deployment rolls Deployments out through ReplicaSets: one ReplicaSet per
// version of the pod template (named <deployment>-<template hash>), scaled up and
// down by the RollingUpdate or Recreate strategy, with revision annotations that
// `kubectl rollout history/undo` read, proportional scaling of every live version
// when the Deployment is scaled mid-rollout, cleanup of old versions beyond
// revisionHistoryLimit, and the Progressing and Available conditions that
// `kubectl rollout status` waits on.
package deployment

// Package apiserver answers the Kubernetes REST API over HTTPS: it authenticates and
// authorizes each request, finds the resource in the registry, negotiates the
// representation (JSON, YAML, protobuf, Table), and runs the generic create / read /
// update / patch / delete / watch flows over internal/storage. Nothing in it is
// specific to one kind; kinds are described by internal/registry.
package apiserver

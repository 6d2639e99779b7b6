// Package namespace empties namespaces that are being deleted. A namespace marked
// for deletion keeps the `kubernetes` finalizer in spec.finalizers while the
// controller deletes every namespaced object in it (found through discovery, so
// custom resources are included). Once nothing is left it removes the finalizer
// through the finalize subresource and the API server deletes the namespace. Its
// status conditions tell the user what is still in the way.
package namespace

// Package admission holds the checks and adjustments every write passes through
// after defaulting and before validation and storage: the namespace must exist and
// not be terminating, pods get their service account and default tolerations, and
// so on. Each plugin is small and independent; Chain runs them in order.
package admission

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"

	"tug/internal/auth"
	"tug/internal/registry"
)

// Operations.
const (
	Create  = "CREATE"
	Update  = "UPDATE"
	Delete  = "DELETE"
	Connect = "CONNECT"
)

// Request is one write seen by admission.
type Request struct {
	Operation   string
	Resource    *registry.Resource // the stored resource
	Subresource string
	Namespace   string
	Name        string
	// Object is the new object in its stored version (nil on delete); plugins may
	// change it.
	Object runtime.Object
	// OldObject is the stored object (nil on create).
	OldObject runtime.Object
	User      *auth.User
	DryRun    bool
	// Options is the DeleteOptions of a delete (nil otherwise).
	Options runtime.Object
}

// Plugin checks (and may adjust) a write. Returning an error refuses it; use API
// errors (Forbidden, Invalid...) so the client sees why.
type Plugin interface {
	Admit(ctx context.Context, r *Request) error
}

// PluginFunc adapts a function to Plugin.
type PluginFunc func(ctx context.Context, r *Request) error

// Admit implements Plugin.
func (f PluginFunc) Admit(ctx context.Context, r *Request) error { return f(ctx, r) }

// Chain runs plugins in order and stops at the first refusal.
type Chain []Plugin

// Admit implements Plugin.
func (c Chain) Admit(ctx context.Context, r *Request) error {
	for _, p := range c {
		if err := p.Admit(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

package podutil

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// NewControllerRef is the ownerReference a controller puts on what it creates: it
// is the controller, and the owner's foreground deletion waits for the object.
func NewControllerRef(owner metav1.Object, gvk schema.GroupVersionKind) *metav1.OwnerReference {
	yes := true
	return &metav1.OwnerReference{
		APIVersion:         gvk.GroupVersion().String(),
		Kind:               gvk.Kind,
		Name:               owner.GetName(),
		UID:                owner.GetUID(),
		Controller:         &yes,
		BlockOwnerDeletion: &yes,
	}
}

// ControllerRefOf returns the object's controller ownerReference, or nil.
func ControllerRefOf(obj metav1.Object) *metav1.OwnerReference {
	return metav1.GetControllerOfNoCopy(obj)
}

// IsControlledBy reports whether obj's controller is the object with the given UID.
func IsControlledBy(obj metav1.Object, uid types.UID) bool {
	ref := ControllerRefOf(obj)
	return ref != nil && ref.UID == uid
}

// Claimer decides which objects (pods of a ReplicaSet, ReplicaSets of a Deployment)
// belong to one owner: those it controls and that still match its selector. It
// adopts orphans that match and releases objects it controls that no longer match.
type Claimer struct {
	Owner    metav1.Object
	Kind     schema.GroupVersionKind
	Selector labels.Selector
	// Recheck reads the owner from the API server (not a cache) before the first
	// adoption: an owner that is gone, replaced or being deleted adopts nothing.
	Recheck func(ctx context.Context) (metav1.Object, error)
	// Patch sends a strategic merge patch to an object of the owned kind.
	Patch func(ctx context.Context, namespace, name string, patch []byte) error

	checked  bool
	checkErr error
}

// Claim returns the objects the owner keeps, adopting and releasing as needed. Errors
// of single adoptions or releases are returned together after all were tried.
func Claim[T metav1.Object](ctx context.Context, c *Claimer, objs []T) ([]T, error) {
	var kept []T
	var errs []error
	for _, o := range objs {
		ok, err := c.claimOne(ctx, o)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			kept = append(kept, o)
		}
	}
	if len(errs) > 0 {
		return kept, fmt.Errorf("claiming objects for %s %s/%s: %v", c.Kind.Kind, c.Owner.GetNamespace(), c.Owner.GetName(), errs)
	}
	return kept, nil
}

func (c *Claimer) claimOne(ctx context.Context, o metav1.Object) (bool, error) {
	matches := c.Selector.Matches(labels.Set(o.GetLabels()))
	if ref := ControllerRefOf(o); ref != nil {
		if ref.UID != c.Owner.GetUID() {
			return false, nil
		}
		if matches {
			return true, nil
		}
		// A deleting owner keeps what it has, so that its dependents are cleaned up
		// with it rather than orphaned.
		if c.Owner.GetDeletionTimestamp() != nil {
			return false, nil
		}
		err := c.release(ctx, o)
		if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
			return false, nil
		}
		return err != nil, err
	}
	if !matches || c.Owner.GetDeletionTimestamp() != nil || o.GetDeletionTimestamp() != nil {
		return false, nil
	}
	if err := c.canAdopt(ctx); err != nil {
		return false, err
	}
	err := c.adopt(ctx, o)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (c *Claimer) canAdopt(ctx context.Context) error {
	if c.checked {
		return c.checkErr
	}
	c.checked = true
	if c.Recheck == nil {
		return nil
	}
	fresh, err := c.Recheck(ctx)
	switch {
	case err != nil:
		c.checkErr = fmt.Errorf("cannot adopt: %w", err)
	case fresh.GetUID() != c.Owner.GetUID():
		c.checkErr = fmt.Errorf("cannot adopt: %s %s/%s was replaced (uid %s, now %s)", c.Kind.Kind, c.Owner.GetNamespace(), c.Owner.GetName(), c.Owner.GetUID(), fresh.GetUID())
	case fresh.GetDeletionTimestamp() != nil:
		c.checkErr = fmt.Errorf("cannot adopt: %s %s/%s is being deleted", c.Kind.Kind, c.Owner.GetNamespace(), c.Owner.GetName())
	}
	return c.checkErr
}

type metaPatch struct {
	Metadata struct {
		OwnerReferences []interface{} `json:"ownerReferences"`
		UID             types.UID     `json:"uid"`
	} `json:"metadata"`
}

func (c *Claimer) adopt(ctx context.Context, o metav1.Object) error {
	var p metaPatch
	p.Metadata.OwnerReferences = []interface{}{NewControllerRef(c.Owner, c.Kind)}
	p.Metadata.UID = o.GetUID()
	b, _ := json.Marshal(p)
	return c.Patch(ctx, o.GetNamespace(), o.GetName(), b)
}

func (c *Claimer) release(ctx context.Context, o metav1.Object) error {
	var p metaPatch
	p.Metadata.OwnerReferences = []interface{}{map[string]interface{}{"$patch": "delete", "uid": c.Owner.GetUID()}}
	p.Metadata.UID = o.GetUID()
	b, _ := json.Marshal(p)
	return c.Patch(ctx, o.GetNamespace(), o.GetName(), b)
}

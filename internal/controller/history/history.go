// Package history keeps the pod-template history of DaemonSets and StatefulSets as
// ControllerRevisions: one revision per distinct template, named <owner>-<hash>,
// numbered in the order the templates were last used. `kubectl rollout history` and
// `kubectl rollout undo` read these objects and patch the owner with their data, so
// the data is a strategic merge patch that replaces the owner's pod template.
package history

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
)

// HashLabel is the label a revision (and each pod made from it) carries: the hash of
// the revision's data.
const HashLabel = appsv1.ControllerRevisionHashLabelKey // controller-revision-hash

// maxNamePrefix keeps <owner>-<hash> within the 253 characters an object name may have.
const maxNamePrefix = 223

// TemplatePatch is the data of a revision for a pod template: a strategic merge
// patch that replaces spec.template of the owner as a whole.
func TemplatePatch(t *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	var m map[string]interface{}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber() // keep integers exactly as written
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	// The creation timestamp of a template is always null; leave it out.
	if md, ok := m["metadata"].(map[string]interface{}); ok {
		delete(md, "creationTimestamp")
	}
	m["$patch"] = "replace"
	return json.Marshal(map[string]interface{}{"spec": map[string]interface{}{"template": m}})
}

// Hash is the name suffix and label value for revision data; a collision count moves
// it to another value when a different revision already took the name.
func Hash(data []byte, collisionCount *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisionCount != nil {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*collisionCount))
		h.Write(b[:])
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// Name is the name of an owner's revision with the given hash.
func Name(owner, hash string) string {
	if len(owner) > maxNamePrefix {
		owner = owner[:maxNamePrefix]
	}
	return owner + "-" + hash
}

// New builds (without creating) the revision of data for owner.
func New(owner metav1.Object, kind schema.GroupVersionKind, templateLabels map[string]string, data []byte, revision int64, collisionCount *int32) *appsv1.ControllerRevision {
	hash := Hash(data, collisionCount)
	l := make(map[string]string, len(templateLabels)+1)
	for k, v := range templateLabels {
		l[k] = v
	}
	l[HashLabel] = hash
	var ann map[string]string
	if a := owner.GetAnnotations(); len(a) > 0 {
		ann = make(map[string]string, len(a))
		for k, v := range a {
			ann[k] = v
		}
	}
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            Name(owner.GetName(), hash),
			Namespace:       owner.GetNamespace(),
			Labels:          l,
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, kind)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: revision,
	}
}

// Equal reports whether two revisions record the same template.
func Equal(a, b *appsv1.ControllerRevision) bool {
	if a == nil || b == nil {
		return a == b
	}
	return string(dataOf(a)) == string(dataOf(b))
}

func dataOf(r *appsv1.ControllerRevision) []byte {
	if r.Data.Raw != nil {
		return r.Data.Raw
	}
	if r.Data.Object != nil {
		b, _ := json.Marshal(r.Data.Object)
		return b
	}
	return nil
}

// Owned lists the revisions in owner's namespace whose controller is owner, sorted by
// revision number (then creation time, then name).
func Owned(lister appslisters.ControllerRevisionLister, owner metav1.Object, selector labels.Selector) ([]*appsv1.ControllerRevision, error) {
	all, err := lister.ControllerRevisions(owner.GetNamespace()).List(selector)
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ControllerRevision
	for _, r := range all {
		if ref := metav1.GetControllerOf(r); ref != nil && ref.UID == owner.GetUID() {
			out = append(out, r)
		}
	}
	Sort(out)
	return out, nil
}

// Sort orders revisions oldest first.
func Sort(revs []*appsv1.ControllerRevision) {
	sort.SliceStable(revs, func(i, j int) bool {
		a, b := revs[i], revs[j]
		if a.Revision != b.Revision {
			return a.Revision < b.Revision
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// Next is the number the next revision gets.
func Next(revs []*appsv1.ControllerRevision) int64 {
	var max int64
	for _, r := range revs {
		if r.Revision > max {
			max = r.Revision
		}
	}
	return max + 1
}

// FindEqual returns the revisions among revs that record the same template as r.
func FindEqual(revs []*appsv1.ControllerRevision, r *appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, x := range revs {
		if Equal(x, r) {
			out = append(out, x)
		}
	}
	return out
}

// Client writes revisions.
type Client struct {
	Client kubernetes.Interface
}

// Create creates want. If its name is taken by a revision of the same owner with the
// same data, that one is returned; if taken by anything else, the collision count
// (which the caller persists in its status) is raised and another name tried.
func (c Client) Create(ctx context.Context, want *appsv1.ControllerRevision, owner metav1.Object, kind schema.GroupVersionKind, templateLabels map[string]string, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	if collisionCount == nil {
		return nil, fmt.Errorf("revision %s: collision count must not be nil", want.Name)
	}
	for attempt := 0; attempt < 100; attempt++ {
		r := New(owner, kind, templateLabels, dataOf(want), want.Revision, collisionCount)
		created, err := c.Client.AppsV1().ControllerRevisions(r.Namespace).Create(ctx, r, metav1.CreateOptions{})
		if err == nil {
			return created, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
		existing, gerr := c.Client.AppsV1().ControllerRevisions(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, gerr
		}
		if ref := metav1.GetControllerOf(existing); ref != nil && ref.UID == owner.GetUID() && Equal(existing, r) {
			return existing, nil
		}
		*collisionCount++
	}
	return nil, fmt.Errorf("revision for %s/%s: no free name after 100 collisions", owner.GetNamespace(), owner.GetName())
}

// Renumber gives an existing revision a new number (its template is in use again).
func (c Client) Renumber(ctx context.Context, r *appsv1.ControllerRevision, revision int64) (*appsv1.ControllerRevision, error) {
	if r.Revision == revision {
		return r, nil
	}
	cp := r.DeepCopy()
	cp.Revision = revision
	return c.Client.AppsV1().ControllerRevisions(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
}

// Truncate deletes the oldest revisions not in live until at most limit non-live
// revisions remain. revs must be sorted oldest first.
func (c Client) Truncate(ctx context.Context, revs []*appsv1.ControllerRevision, live map[string]bool, limit int32) error {
	var old []*appsv1.ControllerRevision
	for _, r := range revs {
		if !live[r.Name] {
			old = append(old, r)
		}
	}
	excess := len(old) - int(limit)
	for i := 0; i < excess; i++ {
		err := c.Client.AppsV1().ControllerRevisions(old[i].Namespace).Delete(ctx, old[i].Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// Sync makes sure the revision for data exists and is the newest: an existing one
// with equal data is renumbered when it is not the newest already, otherwise a new
// one is created. It returns the update revision and the revisions after the change
// (sorted). collisionCount is raised in place when a name collides.
func (c Client) Sync(ctx context.Context, revs []*appsv1.ControllerRevision, owner metav1.Object, kind schema.GroupVersionKind, templateLabels map[string]string, data []byte, collisionCount *int32) (*appsv1.ControllerRevision, []*appsv1.ControllerRevision, error) {
	next := Next(revs)
	want := New(owner, kind, templateLabels, data, next, collisionCount)
	equal := FindEqual(revs, want)
	switch {
	case len(equal) > 0 && equal[len(equal)-1].Revision == revs[len(revs)-1].Revision:
		// Already the newest.
		return equal[len(equal)-1], revs, nil
	case len(equal) > 0:
		upd, err := c.Renumber(ctx, equal[len(equal)-1], next)
		if err != nil {
			return nil, nil, err
		}
		out := replace(revs, upd)
		return upd, out, nil
	}
	created, err := c.Create(ctx, want, owner, kind, templateLabels, collisionCount)
	if err != nil {
		return nil, nil, err
	}
	out := replace(revs, created)
	return created, out, nil
}

// replace puts r into revs (by name) and sorts again.
func replace(revs []*appsv1.ControllerRevision, r *appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	out := make([]*appsv1.ControllerRevision, 0, len(revs)+1)
	for _, x := range revs {
		if x.Name != r.Name {
			out = append(out, x)
		}
	}
	out = append(out, r)
	Sort(out)
	return out
}

// Template reads back the pod template a revision made by TemplatePatch records.
func Template(r *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var p struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(dataOf(r), &p); err != nil {
		return nil, fmt.Errorf("revision %s/%s: %w", r.Namespace, r.Name, err)
	}
	return &p.Spec.Template, nil
}

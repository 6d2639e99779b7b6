package podutil

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// ControllerIndex indexes objects by their controller's UID, and objects without a
// controller as "orphan/<namespace>", so that a controller finds its own objects and
// the orphans it may adopt without scanning a whole namespace.
const ControllerIndex = "tug-controller"

func controllerIndexFunc(obj interface{}) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil
	}
	if ref := ControllerRefOf(m); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return []string{"orphan/" + m.GetNamespace()}, nil
}

// AddControllerIndex adds ControllerIndex to an informer once (several controllers
// share the same informers). Call it before the informers start.
func AddControllerIndex(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[ControllerIndex]; ok {
		return nil
	}
	err := inf.AddIndexers(cache.Indexers{ControllerIndex: controllerIndexFunc})
	if err != nil {
		// Another controller may have added it between the check and here.
		if _, ok := inf.GetIndexer().GetIndexers()[ControllerIndex]; ok {
			return nil
		}
	}
	return err
}

// OwnedOrOrphan returns the objects controlled by uid plus the orphans of namespace,
// from an informer that has ControllerIndex.
func OwnedOrOrphan[T any](indexer cache.Indexer, namespace string, uid types.UID) []T {
	var out []T
	for _, key := range []string{string(uid), "orphan/" + namespace} {
		objs, _ := indexer.ByIndex(ControllerIndex, key)
		for _, o := range objs {
			if t, ok := o.(T); ok {
				out = append(out, t)
			}
		}
	}
	return out
}

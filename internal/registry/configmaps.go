package registry

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true,
		ShortNames: []string{"cm"},
		New:        func() runtime.Object { return &corev1.ConfigMap{} },
		NewList:    func() runtime.Object { return &corev1.ConfigMapList{} },
		Strategy: Strategy{
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				cm := obj.(*corev1.ConfigMap)
				return validateDataKeys(cm.Data, cm.BinaryData, 1<<20)
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap)
				return immutableData(n.Immutable, o.Immutable, n.Data, o.Data, n.BinaryData, o.BinaryData)
			},
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the ConfigMap."},
			{Name: "Data", Type: "string", Description: "Number of keys in data and binaryData."},
			{Name: "Age", Type: "string", Description: "Time since the ConfigMap was created."},
		},
		Row: func(obj runtime.Object) []interface{} {
			cm := obj.(*corev1.ConfigMap)
			return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), Age(cm.CreationTimestamp)}
		},
	})
}

// validateDataKeys checks ConfigMap/Secret keys and the total size.
func validateDataKeys(data map[string]string, binary map[string][]byte, max int) field.ErrorList {
	var errs field.ErrorList
	total := 0
	for k, v := range data {
		p := field.NewPath("data").Key(k)
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(p, k, msg))
		}
		if _, dup := binary[k]; dup {
			errs = append(errs, field.Invalid(p, k, "duplicate of key present in binaryData"))
		}
		total += len(v)
	}
	for k, v := range binary {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(k), k, msg))
		}
		total += len(v)
	}
	if total > max {
		errs = append(errs, field.TooLong(field.NewPath("data"), "", max))
	}
	return errs
}

// immutableData refuses changes to data of an object marked immutable.
func immutableData[T any](newImm, oldImm *bool, newData, oldData map[string]string, newBin, oldBin map[string]T) field.ErrorList {
	if oldImm == nil || !*oldImm {
		return nil
	}
	var errs field.ErrorList
	if newImm == nil || !*newImm {
		errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
	}
	if fmt.Sprint(newData) != fmt.Sprint(oldData) {
		errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
	}
	if fmt.Sprint(newBin) != fmt.Sprint(oldBin) {
		errs = append(errs, field.Forbidden(field.NewPath("binaryData"), "field is immutable when `immutable` is set"))
	}
	return errs
}

package registry

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "podtemplates", Kind: "PodTemplate", Namespaced: true,
		New:     func() runtime.Object { return &corev1.PodTemplate{} },
		NewList: func() runtime.Object { return &corev1.PodTemplateList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) { DefaultPodTemplate(&obj.(*corev1.PodTemplate).Template) },
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return ValidatePodTemplate(&obj.(*corev1.PodTemplate).Template, field.NewPath("template"))
			},
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the pod template."},
			{Name: "Containers", Type: "string", Description: "Names of the containers in the template."},
			{Name: "Images", Type: "string", Description: "Images of the containers in the template."},
			{Name: "Pod Labels", Type: "string", Description: "Labels the pods get."},
		},
		Row: func(obj runtime.Object) []interface{} {
			pt := obj.(*corev1.PodTemplate)
			names, images := extContainersImages(&pt.Template.Spec)
			return []interface{}{pt.Name, names, images, labels.FormatLabels(pt.Template.Labels)}
		},
	})
}

package registry

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "serviceaccounts", Kind: "ServiceAccount", Namespaced: true,
		ShortNames: []string{"sa"},
		New:        func() runtime.Object { return &corev1.ServiceAccount{} },
		NewList:    func() runtime.Object { return &corev1.ServiceAccountList{} },
		Strategy: Strategy{
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				sa := obj.(*corev1.ServiceAccount)
				var errs field.ErrorList
				for i, s := range sa.Secrets {
					if s.Name != "" {
						errs = append(errs, checkDNSSubdomain(field.NewPath("secrets").Index(i).Child("name"), s.Name)...)
					}
				}
				for i, s := range sa.ImagePullSecrets {
					if s.Name != "" {
						errs = append(errs, checkDNSSubdomain(field.NewPath("imagePullSecrets").Index(i).Child("name"), s.Name)...)
					}
				}
				return errs
			},
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the service account."},
			{Name: "Secrets", Type: "string", Description: "Number of secrets listed on the service account."},
			{Name: "Age", Type: "string", Description: "Time since the service account was created."},
		},
		Row: func(obj runtime.Object) []interface{} {
			sa := obj.(*corev1.ServiceAccount)
			return []interface{}{sa.Name, int64(len(sa.Secrets)), Age(sa.CreationTimestamp)}
		},
	})
}

package registry

import (
	"context"
	"encoding/json"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const maxSecretSize = 1 << 20

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "secrets", Kind: "Secret", Namespaced: true,
		New:     func() runtime.Object { return &corev1.Secret{} },
		NewList: func() runtime.Object { return &corev1.SecretList{} },
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"type": string(obj.(*corev1.Secret).Type)}
		},
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultSecret(obj.(*corev1.Secret)) },
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateSecret(obj.(*corev1.Secret))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*corev1.Secret), old.(*corev1.Secret)
				errs := apivalidation.ValidateImmutableField(n.Type, o.Type, field.NewPath("type"))
				if o.Immutable != nil && *o.Immutable {
					// Secrets keep all their bytes in data; configMaps' rule names binaryData.
					for _, e := range immutableData(n.Immutable, o.Immutable, nil, nil, n.Data, o.Data) {
						if e.Field == "binaryData" {
							e.Field = "data"
						}
						errs = append(errs, e)
					}
				}
				return errs
			},
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the secret."},
			{Name: "Type", Type: "string", Description: "What the secret holds, such as Opaque or kubernetes.io/tls."},
			{Name: "Data", Type: "string", Description: "Number of keys in data."},
			{Name: "Age", Type: "string", Description: "Time since the secret was created."},
		},
		Row: func(obj runtime.Object) []interface{} {
			s := obj.(*corev1.Secret)
			return []interface{}{s.Name, string(s.Type), int64(len(s.Data)), Age(s.CreationTimestamp)}
		},
	})
}

// defaultSecret sets the type and folds stringData (a write-only convenience) into data.
func defaultSecret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

func validateSecret(s *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	dp := field.NewPath("data")
	total := 0
	for _, k := range sortedKeys(s.Data) {
		errs = append(errs, invalidEach(dp.Key(k), k, validation.IsConfigMapKey(k))...)
		total += len(s.Data[k])
	}
	if total > maxSecretSize {
		errs = append(errs, field.TooLong(dp, "", maxSecretSize))
	}
	need := func(keys ...string) {
		for _, k := range keys {
			if _, ok := s.Data[k]; !ok {
				errs = append(errs, field.Required(dp.Key(k), ""))
			}
		}
	}
	jsonKey := func(k string) {
		if v, ok := s.Data[k]; !ok {
			errs = append(errs, field.Required(dp.Key(k), ""))
		} else if !json.Valid(v) {
			errs = append(errs, field.Invalid(dp.Key(k), "<secret contents redacted>", "must be valid JSON"))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		jsonKey(corev1.DockerConfigKey)
	case corev1.SecretTypeDockerConfigJson:
		jsonKey(corev1.DockerConfigJsonKey)
	case corev1.SecretTypeBasicAuth:
		_, u := s.Data[corev1.BasicAuthUsernameKey]
		_, p := s.Data[corev1.BasicAuthPasswordKey]
		if !u && !p {
			need(corev1.BasicAuthUsernameKey, corev1.BasicAuthPasswordKey)
		}
	case corev1.SecretTypeSSHAuth:
		need(corev1.SSHAuthPrivateKey)
	case corev1.SecretTypeTLS:
		need(corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	case corev1.SecretTypeOpaque, corev1.SecretTypeBootstrapToken:
	default:
		errs = append(errs, checkQualifiedName(field.NewPath("type"), string(s.Type))...)
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

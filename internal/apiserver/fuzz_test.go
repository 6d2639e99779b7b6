package apiserver

import (
	"net/http/httptest"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// FuzzDecodeAndPatch feeds arbitrary bodies and patches to the decoding and patch
// code: whatever a client sends, the answer is an error or an object, never a panic.
func FuzzDecodeAndPatch(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}`), []byte(`{"spec":{"containers":[{"name":"c"}]}}`), uint8(0))
	f.Add([]byte(`apiVersion: apps/v1\nkind: Deployment\n`), []byte(`[{"op":"add","path":"/x","value":1}]`), uint8(1))
	f.Add([]byte("k8s\x00\x0a\x02"), []byte(`{"metadata":{"$patch":"delete"}}`), uint8(2))
	f.Add([]byte(`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"x"}]}}}}`), []byte(`null`), uint8(3))
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")
	medias := []string{mediaJSON, mediaYAML, mediaProtobuf}
	patches := []types.PatchType{types.StrategicMergePatchType, types.JSONPatchType, types.MergePatchType}
	f.Fuzz(func(t *testing.T, body, patch []byte, sel uint8) {
		w := httptest.NewRecorder()
		_, _ = decodeAs(w, medias[int(sel)%3], body, gvk, &appsv1.Deployment{}, validationStrict)
		_, _ = decodeAs(w, medias[int(sel)%3], body, corev1.SchemeGroupVersion.WithKind("Pod"), &corev1.Pod{}, validationWarn)
		orig := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x"}]}}}}`)
		if out, err := applyPatch(patches[int(sel)%3], orig, patch, &appsv1.Deployment{}); err == nil {
			_, _ = decodeAs(w, mediaJSON, out, gvk, &appsv1.Deployment{}, validationStrict)
		}
	})
}

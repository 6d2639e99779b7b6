package protoenc

import (
	"bytes"
	"io"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

// twoWrites writes its encoding in two pieces, like a serializer might.
type twoWrites struct{}

func (twoWrites) Identifier() runtime.Identifier { return "two-writes" }

func (t twoWrites) Encode(obj runtime.Object, w io.Writer) error {
	return t.EncodeWithAllocator(obj, w, nil)
}

func (twoWrites) EncodeWithAllocator(obj runtime.Object, w io.Writer, _ runtime.MemoryAllocator) error {
	if _, err := w.Write([]byte("ab")); err != nil {
		return err
	}
	_, err := w.Write([]byte("cd"))
	return err
}

func TestEncode(t *testing.T) {
	ser := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"a": "b"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	var want bytes.Buffer
	if err := ser.Encode(pod, &want); err != nil {
		t.Fatal(err)
	}
	for _, reserve := range []int{0, 4} {
		got, err := Encode(ser, pod, reserve)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[:reserve], make([]byte, reserve)) || !bytes.Equal(got[reserve:], want.Bytes()) {
			t.Errorf("reserve %d: got %d bytes, want %d zero bytes and the serializer's %d", reserve, len(got), reserve, want.Len())
		}
	}
	got, err := Encode(twoWrites{}, pod, 2)
	if err != nil || string(got) != "\x00\x00abcd" {
		t.Errorf("two writes: %q %v", got, err)
	}
}

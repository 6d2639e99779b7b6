package apiserver

import (
	"bytes"
	"encoding/binary"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"tug/internal/registry"
	"tug/internal/storage"
)

// TestEncodeProtobuf: encode gives exactly the serializer's bytes.
func TestEncodeProtobuf(t *testing.T) {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Status:     corev1.PodStatus{Message: "failed\n"},
	}
	var want bytes.Buffer
	if err := protoSerializer.Encode(pod, &want); err != nil {
		t.Fatal(err)
	}
	got, err := encode(mediaProtobuf, pod)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("encode: %d bytes, serializer: %d bytes", len(got), want.Len())
	}
	back, _, err := protoSerializer.Decode(got, nil, &corev1.Pod{})
	if err != nil || !apiequality.Semantic.DeepEqual(back.(*corev1.Pod).Status, pod.Status) {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

// TestWatchEventFrame: a protobuf watch event is a 4-byte big-endian length and a
// WatchEvent envelope holding the object.
func TestWatchEventFrame(t *testing.T) {
	res := registry.All().Lookup(podsGVR)
	pod := testPod("a", "n1")
	pod.ResourceVersion = "7"
	pod.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	enc := &watchEncoder{res: res, out: output{media: mediaProtobuf}}
	frame, err := enc.event(storage.Event{Type: watch.Modified, Object: &storage.Object{Obj: pod, RV: 7}}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.BigEndian.Uint32(frame)
	if int(n) != len(frame)-4 {
		t.Fatalf("frame length %d, payload %d", n, len(frame)-4)
	}
	var we metav1.WatchEvent
	if _, _, err := protoRawSerializer.Decode(frame[4:], nil, &we); err != nil {
		t.Fatal(err)
	}
	obj, _, err := protoSerializer.Decode(we.Object.Raw, nil, &corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	if we.Type != string(watch.Modified) || obj.(*corev1.Pod).Name != "a" || obj.(*corev1.Pod).Spec.NodeName != "n1" {
		t.Fatalf("decoded %s %#v", we.Type, obj)
	}
	var _ runtime.Object = obj
}

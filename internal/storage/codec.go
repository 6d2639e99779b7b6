package storage

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"tug/internal/protoenc"
)

// codec writes objects to etcd as Kubernetes protobuf (the "k8s\0" envelope).
type codec struct {
	scheme *runtime.Scheme
	pb     *protobuf.Serializer
}

func newCodec(scheme *runtime.Scheme) *codec {
	return &codec{scheme: scheme, pb: protobuf.NewSerializer(scheme, scheme)}
}

func (c *codec) encode(obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	data, err := protoenc.Encode(c.pb, obj, 0)
	if err != nil {
		return nil, fmt.Errorf("encode %s for storage: %w", gvk.Kind, err)
	}
	return data, nil
}

func (c *codec) decode(data []byte, into runtime.Object, gvk schema.GroupVersionKind) (runtime.Object, error) {
	out, _, err := c.pb.Decode(data, &gvk, into)
	if err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", gvk.Kind, err)
	}
	out.GetObjectKind().SetGroupVersionKind(gvk)
	return out, nil
}

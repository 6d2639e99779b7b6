package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"sigs.k8s.io/yaml"

	"tug/internal/protoenc"
	"tug/internal/registry"
)

const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
)

var (
	jsonSerializer       = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, registry.Scheme, registry.Scheme, kjson.SerializerOptions{})
	strictJSONSerializer = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, registry.Scheme, registry.Scheme, kjson.SerializerOptions{Strict: true})
	strictYAMLSerializer = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, registry.Scheme, registry.Scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
	yamlSerializer       = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, registry.Scheme, registry.Scheme, kjson.SerializerOptions{Yaml: true})
	protoSerializer      = protobuf.NewSerializer(registry.Scheme, registry.Scheme)
	protoRawSerializer   = protobuf.NewRawSerializer(registry.Scheme, registry.Scheme)
)

// output is the representation a client asked for with its Accept header.
type output struct {
	media string // mediaJSON, mediaYAML or mediaProtobuf
	// as is "" for the object itself, or Table, PartialObjectMetadata or
	// PartialObjectMetadataList (meta.k8s.io).
	as        string
	asVersion string // v1 or v1beta1
}

func (o output) contentType() string {
	return o.media
}

// negotiate picks the first representation in Accept that tug can produce.
func negotiate(r *http.Request) (output, error) {
	accept := r.Header.Get("Accept")
	if strings.TrimSpace(accept) == "" {
		return output{media: mediaJSON}, nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		var o output
		switch mt {
		case "*/*", "application/*", mediaJSON:
			o.media = mediaJSON
		case mediaYAML:
			o.media = mediaYAML
		case mediaProtobuf:
			o.media = mediaProtobuf
		default:
			continue
		}
		if as := params["as"]; as != "" {
			if params["g"] != "meta.k8s.io" || (params["v"] != "v1" && params["v"] != "v1beta1") {
				continue
			}
			switch as {
			case "Table":
				if o.media == mediaProtobuf {
					continue
				}
			case "PartialObjectMetadata", "PartialObjectMetadataList":
				// Written as JSON or YAML only (encodeMeta): a client that also
				// accepts JSON gets that.
				if o.media == mediaProtobuf {
					continue
				}
			default:
				continue
			}
			o.as, o.asVersion = as, params["v"]
		}
		return o, nil
	}
	return output{}, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "", fmt.Sprintf("only the following media types are accepted: %s, %s, %s", mediaJSON, mediaYAML, mediaProtobuf), 0, false)
}

// encode serializes obj (with its TypeMeta set) in the given media type.
func encode(media string, obj runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	switch media {
	case mediaYAML:
		err = yamlSerializer.Encode(obj, &buf)
	case mediaProtobuf:
		return protoenc.Encode(protoSerializer, obj, 0)
	default:
		err = jsonSerializer.Encode(obj, &buf)
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// encodeMeta encodes a metav1 type that is not in the scheme's type tables
// (Table, PartialObjectMetadata, and their lists) as JSON or YAML.
func encodeMeta(media string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if media == mediaYAML {
		return jsonToYAML(b)
	}
	return b, nil
}

func writeRaw(w http.ResponseWriter, code int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(code)
	_, _ = w.Write(body)
	if contentType != mediaProtobuf && (len(body) == 0 || body[len(body)-1] != '\n') {
		_, _ = io.WriteString(w, "\n")
	}
}

// statusFor turns any error into the Status a client sees. Errors that are not API
// errors are internal: logged in full, answered with 500.
func statusFor(err error) *metav1.Status {
	if s, ok := err.(apierrors.APIStatus); ok {
		st := s.Status()
		st.Kind, st.APIVersion = "Status", "v1"
		if st.Status == "" {
			st.Status = metav1.StatusFailure
		}
		return &st
	}
	st := apierrors.NewInternalError(err).Status()
	st.Kind, st.APIVersion = "Status", "v1"
	return &st
}

// partialMeta is a PartialObjectMetadata for a table row or a metadata-only answer.
func partialMeta(version string, obj runtime.Object) (*metav1.PartialObjectMetadata, error) {
	acc, err := metaAccessor(obj)
	if err != nil {
		return nil, err
	}
	pm := &metav1.PartialObjectMetadata{ObjectMeta: *acc}
	pm.ManagedFields = nil
	pm.Kind, pm.APIVersion = "PartialObjectMetadata", "meta.k8s.io/"+version
	return pm, nil
}

func metaAccessor(obj runtime.Object) (*metav1.ObjectMeta, error) {
	type objectMetaAccessor interface{ GetObjectMeta() metav1.Object }
	if a, ok := obj.(objectMetaAccessor); ok {
		if om, ok := a.GetObjectMeta().(*metav1.ObjectMeta); ok {
			return om, nil
		}
	}
	return nil, fmt.Errorf("%T has no object metadata", obj)
}

// jsonToYAML converts JSON to YAML (keys sorted, as Kubernetes prints them).
func jsonToYAML(b []byte) ([]byte, error) {
	return yaml.JSONToYAML(b)
}

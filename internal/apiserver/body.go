package apiserver

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/registry"
)

// readBody reads a request body, refusing (413) bodies larger than max.
func readBody(r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading the request body failed: %v", err))
	}
	if int64(len(b)) > max {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the request body is larger than the limit of %d bytes", max))
	}
	return b, nil
}

// fieldValidation is the directive for unknown and duplicate fields in a body.
type fieldValidation string

const (
	validationStrict fieldValidation = "Strict"
	validationWarn   fieldValidation = "Warn"
	validationIgnore fieldValidation = "Ignore"
)

func fieldValidationOf(r *http.Request) (fieldValidation, error) {
	switch v := r.URL.Query().Get("fieldValidation"); v {
	case "":
		return validationWarn, nil
	case "Strict", "Warn", "Ignore":
		return fieldValidation(v), nil
	default:
		return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be Strict, Warn or Ignore, not %q", v))
	}
}

// bodyMedia returns the media type of the request body.
func bodyMedia(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return mediaJSON
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

// decodeBody reads the request body as an object of the kind res serves. kinds lists
// other kinds the body may have (DeleteOptions, Scale...). Unknown fields are refused
// or reported as warnings according to fieldValidation.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, gvk schema.GroupVersionKind, into runtime.Object) (runtime.Object, error) {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, apierrors.NewBadRequest("the request has no body; send the object as JSON, YAML or protobuf")
	}
	fv, err := fieldValidationOf(r)
	if err != nil {
		return nil, err
	}
	return decodeAs(w, bodyMedia(r), body, gvk, into, fv)
}

func decodeAs(w http.ResponseWriter, media string, body []byte, gvk schema.GroupVersionKind, into runtime.Object, fv fieldValidation) (runtime.Object, error) {
	var obj runtime.Object
	var actual *schema.GroupVersionKind
	var err error
	switch media {
	case mediaJSON:
		obj, actual, err = strictJSONSerializer.Decode(body, &gvk, into)
	case mediaYAML, "application/x-yaml", "text/yaml":
		obj, actual, err = strictYAMLSerializer.Decode(body, &gvk, into)
	case mediaProtobuf:
		obj, actual, err = protoSerializer.Decode(body, &gvk, into)
	default:
		return nil, unsupportedMedia(media)
	}
	if err != nil {
		if runtime.IsStrictDecodingError(err) && obj != nil {
			if sde, ok := runtime.AsStrictDecodingError(err); ok {
				switch fv {
				case validationStrict:
					return nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
				case validationWarn:
					for _, e := range sde.Errors() {
						addWarning(w, e.Error())
					}
				}
			}
		} else {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
		}
	}
	if actual != nil && (actual.Kind != gvk.Kind || actual.GroupVersion() != gvk.GroupVersion()) {
		if actual.GroupVersion() != gvk.GroupVersion() {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", actual.GroupVersion(), gvk.GroupVersion()))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", actual.Kind, gvk.Kind))
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

func unsupportedMedia(media string) error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "", fmt.Sprintf("the body of the request was in an unknown format (%q); accepted media types are %s, %s and %s", media, mediaJSON, mediaYAML, mediaProtobuf), 0, false)
}

// addWarning adds a Warning header, as Kubernetes does for unknown fields.
func addWarning(w http.ResponseWriter, msg string) {
	w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
}

// dryRunOf parses the dryRun parameter: absent or "All".
func dryRunOf(r *http.Request) (bool, error) {
	vals := r.URL.Query()["dryRun"]
	if len(vals) == 0 {
		return false, nil
	}
	for _, v := range vals {
		if v != metav1.DryRunAll {
			return false, apierrors.NewBadRequest(fmt.Sprintf("dryRun must be %q, not %q", metav1.DryRunAll, v))
		}
	}
	return true, nil
}

// newOf makes an empty object of res's served type with its kind set.
func newOf(res *registry.Resource) runtime.Object {
	o := res.New()
	o.GetObjectKind().SetGroupVersionKind(res.GVK())
	return o
}

package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"tug/internal/registry"
)

// maxJSONPatchOps bounds the work one JSON patch can ask for.
const maxJSONPatchOps = 10000

// applyPatch applies a patch of type pt to the JSON of an object. schemaObj is an
// empty object of the type, for the strategic merge patch metadata in its struct tags.
func applyPatch(pt types.PatchType, original, patch []byte, schemaObj runtime.Object) ([]byte, error) {
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the JSON patch is not valid: %v", err))
		}
		if len(p) > maxJSONPatchOps {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the JSON patch has %d operations; the limit is %d", len(p), maxJSONPatchOps))
		}
		out, err := p.Apply(original)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", fmt.Sprintf("the JSON patch could not be applied: %v", err), 0, false)
		}
		return out, nil
	case types.MergePatchType:
		if !json.Valid(patch) {
			return nil, apierrors.NewBadRequest("the merge patch is not valid JSON")
		}
		out, err := jsonpatch.MergePatch(original, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the merge patch could not be applied: %v", err))
		}
		return out, nil
	case types.StrategicMergePatchType:
		var pm map[string]interface{}
		if err := json.Unmarshal(patch, &pm); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the strategic merge patch is not a valid JSON object: %v", err))
		}
		out, err := strategicpatch.StrategicMergePatch(original, patch, schemaObj)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the strategic merge patch could not be applied: %v", err))
		}
		return out, nil
	}
	return nil, unsupportedMedia(string(pt))
}

func (s *Server) servePatch(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource, sub string) {
	op, err := s.op(r, info, res, sub)
	if err != nil {
		writeError(w, r, err)
		return
	}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		writeError(w, r, err)
		return
	}
	pt := types.PatchType(bodyMedia(r))
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
	case types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
		s.serveApply(w, r, info, res, op, body)
		return
	default:
		writeError(w, r, unsupportedMedia(string(pt)))
		return
	}
	fv, err := fieldValidationOf(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out, _, err := s.update(r.Context(), op, false, func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(res.GroupResource(), info.Name)
		}
		return patchObject(w, res, cur, pt, body, fv, info.Name)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusOK, res, out)
}

// patchObject applies a patch to an object of the served version and decodes the result.
func patchObject(w http.ResponseWriter, res *registry.Resource, cur runtime.Object, pt types.PatchType, patch []byte, fv fieldValidation, name string) (runtime.Object, error) {
	ensureGVK(cur, res.GVK())
	original, err := encode(mediaJSON, cur)
	if err != nil {
		return nil, err
	}
	patched, err := applyPatch(pt, original, patch, res.New())
	if err != nil {
		return nil, err
	}
	obj, err := decodeAs(w, mediaJSON, patched, res.GVK(), newOf(res), fv)
	if err != nil {
		return nil, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if m.GetName() != name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), name))
	}
	return obj, nil
}

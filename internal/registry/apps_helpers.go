package registry

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Helpers shared by the workload kinds (apps, batch) and the other non-core kinds.

func extPtr[T any](v T) *T { return &v }

// extWorkloadSelector checks a controller's selector and that its pod template
// carries labels the selector matches. kind names the controller in messages.
func extWorkloadSelector(sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, kind string, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	selPath := specPath.Child("selector")
	if sel == nil {
		return append(errs, field.Required(selPath, ""))
	}
	errs = append(errs, metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, selPath)...)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(selPath, sel, "empty selector is invalid for "+kind))
		return errs
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		// The syntax errors are reported above.
		return errs
	}
	if t != nil && !s.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(specPath.Child("template", "metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// extLongRunningTemplate checks what a pod template of a controller that keeps
// pods running needs: the pod rules, restartPolicy Always, no active deadline.
func extLongRunningTemplate(t *corev1.PodTemplateSpec, kind string, tplPath *field.Path) field.ErrorList {
	errs := ValidatePodTemplate(t, tplPath)
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tplPath.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tplPath.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds is not supported in a "+kind+" pod template"))
	}
	return errs
}

// extNonNeg32 checks an optional int32 field is >= 0.
func extNonNeg32(v *int32, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return apivalidation.ValidateNonnegativeField(int64(*v), p)
}

// extPositive32 checks an optional int32 field is > 0.
func extPositive32(v *int32, p *field.Path) field.ErrorList {
	if v == nil || *v > 0 {
		return nil
	}
	return field.ErrorList{field.Invalid(p, *v, "must be greater than 0")}
}

var extPercentRE = regexp.MustCompile(`^[0-9]+%$`)

// extIntOrPercent checks an int-or-string that is a count or a percentage:
// a non-negative integer, or digits followed by '%'.
func extIntOrPercent(v *intstr.IntOrString, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	switch v.Type {
	case intstr.String:
		if !extPercentRE.MatchString(v.StrVal) {
			return field.ErrorList{field.Invalid(p, v.StrVal, "must be an integer or percentage (e.g '5%')")}
		}
	case intstr.Int:
		return apivalidation.ValidateNonnegativeField(int64(v.IntVal), p)
	}
	return nil
}

// extPercentOrInt returns the number in an int-or-percent and whether it is a percentage.
func extPercentOrInt(v *intstr.IntOrString) (int, bool) {
	if v == nil {
		return 0, false
	}
	if v.Type == intstr.String {
		n, _ := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
		return n, true
	}
	return int(v.IntVal), false
}

// extNotOver100 refuses percentages above 100%.
func extNotOver100(v *intstr.IntOrString, p *field.Path) field.ErrorList {
	if n, pct := extPercentOrInt(v); pct && n > 100 {
		return field.ErrorList{field.Invalid(p, v.StrVal, "must not be greater than 100%")}
	}
	return nil
}

// extIsZeroIntOrPercent reports whether v is 0 or 0%.
func extIsZeroIntOrPercent(v *intstr.IntOrString) bool {
	n, _ := extPercentOrInt(v)
	return v != nil && n == 0
}

// extContainersImages lists a pod spec's container names and images for the wide
// table columns.
func extContainersImages(spec *corev1.PodSpec) (string, string) {
	names := make([]string, 0, len(spec.Containers))
	images := make([]string, 0, len(spec.Containers))
	for _, c := range spec.Containers {
		names = append(names, c.Name)
		images = append(images, c.Image)
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

// extSelectorText prints a label selector as kubectl shows it ("<none>" when empty).
func extSelectorText(sel *metav1.LabelSelector) string {
	return metav1.FormatLabelSelector(sel)
}

// Column definitions shared by several tables.
func extNameColumn(kind string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: "Name of the " + kind + "."}
}

func extAgeColumn(kind string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: "Time since the " + kind + " was created."}
}

// extTemplateColumns are the wide columns of controllers with a pod template.
func extTemplateColumns(withSelector bool) []metav1.TableColumnDefinition {
	out := []metav1.TableColumnDefinition{
		{Name: "Containers", Type: "string", Priority: 1, Description: "Names of the containers in the pod template."},
		{Name: "Images", Type: "string", Priority: 1, Description: "Images of the containers in the pod template."},
	}
	if withSelector {
		out = append(out, metav1.TableColumnDefinition{Name: "Selector", Type: "string", Priority: 1, Description: "Label selector of the pods it manages."})
	}
	return out
}

// extCols joins column groups into one list.
func extCols(groups ...[]metav1.TableColumnDefinition) []metav1.TableColumnDefinition {
	var out []metav1.TableColumnDefinition
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// extNone prints "<none>" for an empty string.
func extNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// extListWithMore prints at most max items, then "+ N more...".
func extListWithMore(items []string, max int, sep string, empty string) string {
	if len(items) == 0 {
		return empty
	}
	if len(items) <= max {
		return strings.Join(items, sep)
	}
	return fmt.Sprintf("%s + %d more...", strings.Join(items[:max], sep), len(items)-max)
}

// extImmutable returns a "field is immutable" error when the values differ.
func extImmutable(newVal, oldVal interface{}, p *field.Path) field.ErrorList {
	return apivalidation.ValidateImmutableField(newVal, oldVal, p)
}

// extRevisionHistory checks the common revisionHistoryLimit and minReadySeconds fields.
func extRevisionHistory(limit *int32, minReady int32, specPath *field.Path) field.ErrorList {
	errs := extNonNeg32(limit, specPath.Child("revisionHistoryLimit"))
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(minReady), specPath.Child("minReadySeconds"))...)
	return errs
}

// extCount is a status counter and its JSON name.
type extCount struct {
	name  string
	value int32
}

// extCounts checks that status counters are not negative.
func extCounts(p *field.Path, counts []extCount) field.ErrorList {
	var errs field.ErrorList
	for _, c := range counts {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(c.value), p.Child(c.name))...)
	}
	return errs
}

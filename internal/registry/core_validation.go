package registry

import (
	"fmt"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Shared checks of the core/v1 kinds: names, ports, quantities, IPs, enums.

// countSet counts the non-nil pointer fields of a struct such as VolumeSource, where
// exactly one must be set.
func countSet(v interface{}) int {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	n := 0
	for i := 0; i < rv.NumField(); i++ {
		f := rv.Field(i)
		if f.Kind() == reflect.Pointer && !f.IsNil() {
			n++
		}
	}
	return n
}

// invalidEach turns the messages of an apimachinery check into Invalid errors.
func invalidEach(p *field.Path, value interface{}, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, m := range msgs {
		errs = append(errs, field.Invalid(p, value, m))
	}
	return errs
}

func checkDNSLabel(p *field.Path, v string) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return invalidEach(p, v, validation.IsDNS1123Label(v))
}

func checkDNSSubdomain(p *field.Path, v string) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return invalidEach(p, v, validation.IsDNS1123Subdomain(v))
}

func checkQualifiedName(p *field.Path, v string) field.ErrorList {
	return invalidEach(p, v, validation.IsQualifiedName(v))
}

func checkLabelValue(p *field.Path, v string) field.ErrorList {
	return invalidEach(p, v, validation.IsValidLabelValue(v))
}

func checkNonNegative(p *field.Path, v int64) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(v, p)
}

// checkPortNumber wants 1-65535.
func checkPortNumber(p *field.Path, port int32) field.ErrorList {
	return invalidEach(p, port, validation.IsValidPortNum(int(port)))
}

// checkPortRef checks a port given by number or by name (probes, targetPort).
func checkPortRef(p *field.Path, port intstr.IntOrString) field.ErrorList {
	if port.Type == intstr.String {
		if port.StrVal == "" {
			return field.ErrorList{field.Required(p, "")}
		}
		return invalidEach(p, port.StrVal, validation.IsValidPortName(port.StrVal))
	}
	return invalidEach(p, port.IntVal, validation.IsValidPortNum(int(port.IntVal)))
}

func checkIP(p *field.Path, ip string) field.ErrorList {
	if ip == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return validation.IsValidIP(p, ip)
}

// checkEnum wants one of the supported values; an empty value is Required.
func checkEnum[T ~string](p *field.Path, v T, supported ...T) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	s := make([]string, len(supported))
	for i, x := range supported {
		if x == v {
			return nil
		}
		s[i] = string(x)
	}
	return field.ErrorList{field.NotSupported(p, v, s)}
}

// checkOptionalEnum is checkEnum that accepts an empty value.
func checkOptionalEnum[T ~string](p *field.Path, v T, supported ...T) field.ErrorList {
	if v == "" {
		return nil
	}
	return checkEnum(p, v, supported...)
}

var protocols = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}

// checkFileMode wants a permission mode: 0 to 0777.
func checkFileMode(p *field.Path, mode *int32) field.ErrorList {
	if mode != nil && (*mode < 0 || *mode > 0o777) {
		return field.ErrorList{field.Invalid(p, *mode, "must be a number between 0 and 0777 (octal), both inclusive")}
	}
	return nil
}

// checkRelativePath wants a path that stays inside the directory it is joined to.
func checkRelativePath(p *field.Path, v string) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(v) || strings.HasPrefix(v, "/") {
		errs = append(errs, field.Invalid(p, v, "must be a relative path"))
	}
	for _, part := range strings.Split(v, "/") {
		if part == ".." {
			errs = append(errs, field.Invalid(p, v, "must not contain '..'"))
			break
		}
	}
	return errs
}

// Resource names and quantities.

var standardContainerResources = map[corev1.ResourceName]bool{
	corev1.ResourceCPU: true, corev1.ResourceMemory: true, corev1.ResourceEphemeralStorage: true,
}

func isHugePages(n corev1.ResourceName) bool {
	return strings.HasPrefix(string(n), corev1.ResourceHugePagesPrefix)
}

// isExtendedResource: a name with a domain outside kubernetes.io (example.com/gpu).
func isExtendedResource(n corev1.ResourceName) bool {
	s := string(n)
	if !strings.Contains(s, "/") || strings.HasPrefix(s, corev1.ResourceDefaultNamespacePrefix) {
		return false
	}
	return len(validation.IsQualifiedName("requests."+s)) == 0
}

// checkContainerResourceName accepts cpu, memory, ephemeral-storage, hugepages-<size>
// and extended resources.
func checkContainerResourceName(p *field.Path, n corev1.ResourceName) field.ErrorList {
	errs := invalidEach(p, string(n), validation.IsQualifiedName(string(n)))
	if len(errs) > 0 {
		return errs
	}
	if standardContainerResources[n] || isHugePages(n) || isExtendedResource(n) {
		return nil
	}
	return field.ErrorList{field.Invalid(p, string(n), "must be a standard resource for containers")}
}

func checkQuantityNonNegative(p *field.Path, q resource.Quantity) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(p, q.String(), "must be greater than or equal to 0")}
	}
	return nil
}

// checkResourceRequirements checks a container's requests and limits.
func checkResourceRequirements(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	lp, rp := p.Child("limits"), p.Child("requests")
	for _, n := range SortedResourceNames(r.Limits) {
		q := r.Limits[n]
		kp := lp.Key(string(n))
		errs = append(errs, checkContainerResourceName(kp, n)...)
		errs = append(errs, checkQuantityNonNegative(kp, q)...)
		if isExtendedResource(n) && q.MilliValue()%1000 != 0 {
			errs = append(errs, field.Invalid(kp, q.String(), "must be an integer"))
		}
	}
	for _, n := range SortedResourceNames(r.Requests) {
		q := r.Requests[n]
		kp := rp.Key(string(n))
		errs = append(errs, checkContainerResourceName(kp, n)...)
		errs = append(errs, checkQuantityNonNegative(kp, q)...)
		if isExtendedResource(n) && q.MilliValue()%1000 != 0 {
			errs = append(errs, field.Invalid(kp, q.String(), "must be an integer"))
		}
		limit, ok := r.Limits[n]
		if !ok {
			if isExtendedResource(n) {
				errs = append(errs, field.Forbidden(rp, fmt.Sprintf("%s: Limit must be set for non overcommitable resources", n)))
			}
			continue
		}
		overcommit := !isHugePages(n) && !isExtendedResource(n)
		switch {
		case !overcommit && q.Cmp(limit) != 0:
			errs = append(errs, field.Invalid(rp, q.String(), fmt.Sprintf("must be equal to %s limit of %s", n, limit.String())))
		case q.Cmp(limit) > 0:
			errs = append(errs, field.Invalid(rp, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", n, limit.String())))
		}
	}
	for i, c := range r.Claims {
		cp := p.Child("claims").Index(i)
		errs = append(errs, checkDNSLabel(cp.Child("name"), c.Name)...)
	}
	return errs
}

// SortedResourceNames returns the names of l in order.
func SortedResourceNames(l corev1.ResourceList) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Access modes of volumes and claims.
var accessModes = []corev1.PersistentVolumeAccessMode{
	corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod,
}

func checkAccessModes(p *field.Path, modes []corev1.PersistentVolumeAccessMode) field.ErrorList {
	if len(modes) == 0 {
		return field.ErrorList{field.Required(p, "at least 1 access mode is required")}
	}
	var errs field.ErrorList
	for _, m := range modes {
		errs = append(errs, checkEnum(p, m, accessModes...)...)
	}
	if len(modes) > 1 {
		for _, m := range modes {
			if m == corev1.ReadWriteOncePod {
				errs = append(errs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
				break
			}
		}
	}
	return errs
}

// accessModesString prints access modes as kubectl does: "RWO,ROX,RWX,RWOP".
func accessModesString(modes []corev1.PersistentVolumeAccessMode) string {
	has := func(m corev1.PersistentVolumeAccessMode) bool {
		for _, x := range modes {
			if x == m {
				return true
			}
		}
		return false
	}
	var out []string
	for _, x := range []struct {
		m    corev1.PersistentVolumeAccessMode
		abbr string
	}{{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"}, {corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"}} {
		if has(x.m) {
			out = append(out, x.abbr)
		}
	}
	return strings.Join(out, ",")
}

// storageClassOf reads the class from the old annotation, else from the field.
func storageClassOf(ann map[string]string, field *string) string {
	if c, ok := ann[corev1.BetaStorageClassAnnotation]; ok {
		return c
	}
	if field != nil {
		return *field
	}
	return ""
}

var sysctlName = regexp.MustCompile(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

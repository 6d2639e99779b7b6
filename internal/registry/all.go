package registry

import (
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/version"
)

var registered []*Resource

// register adds resources to the set All returns. Each kind's file calls it from init.
func register(rs ...*Resource) { registered = append(registered, rs...) }

// groupOrder is the order in which discovery lists groups (as Kubernetes does).
var groupOrder = []string{
	"", "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
	"autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
	"storage.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
	"coordination.k8s.io", "node.k8s.io", "discovery.k8s.io", "resource.k8s.io", "flowcontrol.apiserver.k8s.io",
	"metrics.k8s.io",
}

func groupRank(g string) int {
	for i, n := range groupOrder {
		if n == g {
			return i
		}
	}
	return len(groupOrder)
}

// All returns every resource tug serves, in discovery order: groups as Kubernetes
// orders them, preferred version first, resources by name.
// Extra resources (built where their dependencies live, such as access reviews
// that need the authorizer) are added to the registered ones.
func All(extra ...*Resource) *Set {
	rs := append(append([]*Resource(nil), registered...), extra...)
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if ga, gb := groupRank(a.Group), groupRank(b.Group); ga != gb {
			return ga < gb
		}
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return version.CompareKubeAwareVersionStrings(a.Version, b.Version) > 0
		}
		return a.Resource < b.Resource
	})
	return NewSet(rs)
}

// Age formats how long ago t was, the way kubectl shows ages ("3m32s", "5d").
func Age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

package deployment

import (
	"math"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Annotations the controller keeps on Deployments and ReplicaSets.
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	// HashLabel tells the ReplicaSets (and their pods) of one Deployment apart.
	HashLabel = appsv1.DefaultDeploymentUniqueLabelKey

	lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
	rollbackToAnnotation  = "deprecated.deployment.rollback.to"
)

// notCopied are Deployment annotations that are not handed to its ReplicaSets.
var notCopied = map[string]bool{
	lastAppliedAnnotation:     true,
	RevisionAnnotation:        true,
	RevisionHistoryAnnotation: true,
	DesiredReplicasAnnotation: true,
	MaxReplicasAnnotation:     true,
	rollbackToAnnotation:      true,
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// scaled resolves an absolute-or-percent value against total, rounding up or down.
func scaled(v *intstr.IntOrString, total int32, roundUp bool) int32 {
	if v == nil {
		return 0
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, int(total), roundUp)
	if err != nil || n < 0 {
		return 0
	}
	return int32(n)
}

// fenceposts returns the surge (rounded up) and unavailability (rounded down) a
// rolling update may use. Both zero would never make progress, so unavailability is
// then one.
func fenceposts(d *appsv1.Deployment) (surge, unavailable int32) {
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil {
		return 0, 0
	}
	want := replicas(d.Spec.Replicas)
	surge = scaled(ru.MaxSurge, want, true)
	unavailable = scaled(ru.MaxUnavailable, want, false)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

// maxSurge is the surge of a rolling update (0 for Recreate).
func maxSurge(d *appsv1.Deployment) int32 {
	s, _ := fenceposts(d)
	return s
}

// maxUnavailable is how many of the wanted pods may be unavailable (0 for Recreate),
// never more than the wanted count.
func maxUnavailable(d *appsv1.Deployment) int32 {
	_, u := fenceposts(d)
	if want := replicas(d.Spec.Replicas); u > want {
		return want
	}
	return u
}

func specSum(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += replicas(rs.Spec.Replicas)
		}
	}
	return n
}

func statusSum(rss []*appsv1.ReplicaSet, f func(*appsv1.ReplicaSetStatus) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += f(&rs.Status)
		}
	}
	return n
}

func actual(s *appsv1.ReplicaSetStatus) int32    { return s.Replicas }
func ready(s *appsv1.ReplicaSetStatus) int32     { return s.ReadyReplicas }
func available(s *appsv1.ReplicaSetStatus) int32 { return s.AvailableReplicas }

// active returns the ReplicaSets that want pods.
func active(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && replicas(rs.Spec.Replicas) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

func withNew(old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	out := append([]*appsv1.ReplicaSet(nil), old...)
	if newRS != nil {
		out = append(out, newRS)
	}
	return out
}

// revision reads a revision annotation (0 if absent or bad).
func revision(annotations map[string]string) int64 {
	v, err := strconv.ParseInt(annotations[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func olderFirst(rss []*appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool {
		a, b := rss[i], rss[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

func byRevision(rss []*appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool {
		ra, rb := revision(rss[i].Annotations), revision(rss[j].Annotations)
		if ra != rb {
			return ra < rb
		}
		return rss[i].CreationTimestamp.Before(&rss[j].CreationTimestamp)
	})
}

// largestFirst orders by spec.replicas, largest first; ties go to the newer
// (newerWins) or the older ReplicaSet.
func largestFirst(rss []*appsv1.ReplicaSet, newerWins bool) {
	sort.SliceStable(rss, func(i, j int) bool {
		a, b := rss[i], rss[j]
		if ra, rb := replicas(a.Spec.Replicas), replicas(b.Spec.Replicas); ra != rb {
			return ra > rb
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			if newerWins {
				return b.CreationTimestamp.Before(&a.CreationTimestamp)
			}
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

func intAnnotation(annotations map[string]string, key string) (int32, bool) {
	v, ok := annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

func roundHalfUp(f float64) int32 {
	return int32(math.Round(f))
}

var semantic = equality.Semantic

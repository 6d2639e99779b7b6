package registry

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The labels a Job puts on its pods when it chooses its own selector. The short
// forms are the older names, still set for tools that look for them.
const (
	JobUIDLabel        = batchv1.ControllerUidLabel // batch.kubernetes.io/controller-uid
	JobNameLabel       = batchv1.JobNameLabel       // batch.kubernetes.io/job-name
	JobLegacyUIDLabel  = "controller-uid"
	JobLegacyNameLabel = "job-name"
)

// maxIndexedJobSize bounds completions and parallelism of Indexed jobs.
const maxIndexedJobSize = 100000

func init() {
	register(&Resource{
		Group: "batch", Version: "v1", Resource: "jobs", Kind: "Job", Namespaced: true,
		Categories: []string{"all"},
		New:        func() runtime.Object { return &batchv1.Job{} },
		NewList:    func() runtime.Object { return &batchv1.JobList{} },
		Status:     true,
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
		},
		Generation: true,
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultJob(obj.(*batchv1.Job)) },
			PrepareForCreate: func(_ context.Context, obj runtime.Object) {
				j := obj.(*batchv1.Job)
				if !isManualSelector(&j.Spec) {
					generateJobSelector(j)
				}
				copyTemplateLabels(j)
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateJob(obj.(*batchv1.Job))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				return validateJobUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
				s := obj.(*batchv1.Job).Status
				errs := extCounts(field.NewPath("status"), []extCount{{"active", s.Active}, {"succeeded", s.Succeeded}, {"failed", s.Failed}})
				errs = append(errs, extNonNeg32(s.Ready, field.NewPath("status", "ready"))...)
				errs = append(errs, extNonNeg32(s.Terminating, field.NewPath("status", "terminating"))...)
				return errs
			},
		},
		Columns: extCols([]metav1.TableColumnDefinition{
			extNameColumn("job"),
			{Name: "Status", Type: "string", Description: "Complete, Failed, Running, Suspended or Terminating."},
			{Name: "Completions", Type: "string", Description: "Successful pods out of the number wanted."},
			{Name: "Duration", Type: "string", Description: "How long the job ran (or has been running)."},
			extAgeColumn("job"),
		}, extTemplateColumns(true)),
		Row: func(obj runtime.Object) []interface{} {
			j := obj.(*batchv1.Job)
			c, i := extContainersImages(&j.Spec.Template.Spec)
			return []interface{}{
				j.Name, jobStatusText(j), jobCompletionsText(j), jobDurationText(j, time.Now()), Age(j.CreationTimestamp),
				c, i, extSelectorText(j.Spec.Selector),
			}
		},
	})
}

func isManualSelector(s *batchv1.JobSpec) bool { return s.ManualSelector != nil && *s.ManualSelector }

func defaultJob(j *batchv1.Job) {
	s := &j.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = extPtr[int32](1)
		s.Parallelism = extPtr[int32](1)
	}
	if s.Parallelism == nil {
		s.Parallelism = extPtr[int32](1)
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = extPtr[int32](math.MaxInt32)
		} else {
			s.BackoffLimit = extPtr[int32](6)
		}
	}
	copyTemplateLabels(j)
	if s.CompletionMode == nil {
		s.CompletionMode = extPtr(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = extPtr(false)
	}
	if s.PodFailurePolicy != nil {
		for i := range s.PodFailurePolicy.Rules {
			for k := range s.PodFailurePolicy.Rules[i].OnPodConditions {
				if c := &s.PodFailurePolicy.Rules[i].OnPodConditions[k]; c.Status == "" {
					c.Status = corev1.ConditionTrue
				}
			}
		}
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = extPtr(batchv1.Failed)
		} else {
			s.PodReplacementPolicy = extPtr(batchv1.TerminatingOrFailed)
		}
	}
	DefaultPodTemplate(&s.Template)
}

// copyTemplateLabels gives a job without labels those of its pod template.
func copyTemplateLabels(j *batchv1.Job) {
	if len(j.Labels) != 0 || len(j.Spec.Template.Labels) == 0 {
		return
	}
	j.Labels = make(map[string]string, len(j.Spec.Template.Labels))
	for k, v := range j.Spec.Template.Labels {
		j.Labels[k] = v
	}
}

// generateJobSelector labels the pod template with the job's uid and name and
// selects on the uid. Labels a user already set are kept; validation then refuses
// the ones that do not agree.
func generateJobSelector(j *batchv1.Job) {
	t := &j.Spec.Template
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	for k, v := range map[string]string{
		JobUIDLabel: string(j.UID), JobLegacyUIDLabel: string(j.UID),
		JobNameLabel: j.Name, JobLegacyNameLabel: j.Name,
	} {
		if _, set := t.Labels[k]; !set {
			t.Labels[k] = v
		}
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, set := j.Spec.Selector.MatchLabels[JobUIDLabel]; !set {
		j.Spec.Selector.MatchLabels[JobUIDLabel] = string(j.UID)
	}
}

func validateJob(j *batchv1.Job) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateJobSpec(&j.Spec, p)
	errs = append(errs, extWorkloadSelector(j.Spec.Selector, &j.Spec.Template, "job", p)...)
	if !isManualSelector(&j.Spec) {
		errs = append(errs, validateGeneratedSelector(j)...)
	}
	return errs
}

// validateGeneratedSelector checks a selector the server chose still selects by the
// job's uid alone and the template carries the uid label.
func validateGeneratedSelector(j *batchv1.Job) field.ErrorList {
	var errs field.ErrorList
	if j.UID == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	if j.Spec.Selector == nil {
		return errs
	}
	ms := j.Spec.Selector
	if len(ms.MatchExpressions) != 0 || len(ms.MatchLabels) != 1 || ms.MatchLabels[JobUIDLabel] != string(j.UID) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), ms,
			"`selector` not auto-generated; set spec.manualSelector to true to choose one"))
	}
	tp := field.NewPath("spec", "template", "metadata", "labels")
	for _, l := range [][2]string{{JobUIDLabel, string(j.UID)}, {JobNameLabel, j.Name}} {
		if got, ok := j.Spec.Template.Labels[l[0]]; ok && got != l[1] {
			errs = append(errs, field.Invalid(tp.Key(l[0]), got, fmt.Sprintf("must be '%s'", l[1])))
		}
	}
	return errs
}

var (
	jobRestartPolicies      = []string{string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever)}
	jobCompletionModes      = []string{string(batchv1.NonIndexedCompletion), string(batchv1.IndexedCompletion)}
	jobReplacementPolicies  = []string{string(batchv1.Failed), string(batchv1.TerminatingOrFailed)}
	jobFailurePolicyActions = []string{string(batchv1.PodFailurePolicyActionCount), string(batchv1.PodFailurePolicyActionFailIndex),
		string(batchv1.PodFailurePolicyActionFailJob), string(batchv1.PodFailurePolicyActionIgnore)}
)

// validateJobSpec checks a job spec (of a Job, or of a CronJob's job template)
// apart from its selector.
func validateJobSpec(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	errs := extNonNeg32(s.Parallelism, p.Child("parallelism"))
	errs = append(errs, extNonNeg32(s.Completions, p.Child("completions"))...)
	errs = append(errs, extNonNeg32(s.BackoffLimit, p.Child("backoffLimit"))...)
	errs = append(errs, extNonNeg32(s.TTLSecondsAfterFinished, p.Child("ttlSecondsAfterFinished"))...)
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*s.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	}
	indexed := false
	if s.CompletionMode != nil {
		switch *s.CompletionMode {
		case batchv1.IndexedCompletion:
			indexed = true
			if s.Completions == nil {
				errs = append(errs, field.Required(p.Child("completions"), "when completion mode is Indexed"))
			} else if *s.Completions > maxIndexedJobSize {
				errs = append(errs, field.Invalid(p.Child("completions"), *s.Completions, fmt.Sprintf("must be less than or equal to %d when completion mode is Indexed", maxIndexedJobSize)))
			}
			if s.Parallelism != nil && *s.Parallelism > maxIndexedJobSize {
				errs = append(errs, field.Invalid(p.Child("parallelism"), *s.Parallelism, fmt.Sprintf("must be less than or equal to %d when completion mode is Indexed", maxIndexedJobSize)))
			}
		case batchv1.NonIndexedCompletion:
		default:
			errs = append(errs, field.NotSupported(p.Child("completionMode"), *s.CompletionMode, jobCompletionModes))
		}
	}
	if s.BackoffLimitPerIndex != nil {
		errs = append(errs, extNonNeg32(s.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
		if !indexed {
			errs = append(errs, field.Forbidden(p.Child("backoffLimitPerIndex"), "requires completion mode Indexed"))
		}
	}
	if s.MaxFailedIndexes != nil {
		errs = append(errs, extNonNeg32(s.MaxFailedIndexes, p.Child("maxFailedIndexes"))...)
		if s.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(p.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
		if s.Completions != nil && *s.MaxFailedIndexes > *s.Completions {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "must be less than or equal to completions"))
		}
	}
	if s.SuccessPolicy != nil && !indexed {
		errs = append(errs, field.Invalid(p.Child("successPolicy"), *s.SuccessPolicy, "requires completion mode Indexed"))
	}
	if s.PodReplacementPolicy != nil {
		switch *s.PodReplacementPolicy {
		case batchv1.TerminatingOrFailed:
			if s.PodFailurePolicy != nil {
				errs = append(errs, field.NotSupported(p.Child("podReplacementPolicy"), *s.PodReplacementPolicy, []string{string(batchv1.Failed)}))
			}
		case batchv1.Failed:
		default:
			errs = append(errs, field.NotSupported(p.Child("podReplacementPolicy"), *s.PodReplacementPolicy, jobReplacementPolicies))
		}
	}
	tp := p.Child("template")
	errs = append(errs, ValidatePodTemplate(&s.Template, tp)...)
	rp := tp.Child("spec", "restartPolicy")
	switch s.Template.Spec.RestartPolicy {
	case corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
	case "":
		errs = append(errs, field.Required(rp, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	default:
		errs = append(errs, field.NotSupported(rp, s.Template.Spec.RestartPolicy, jobRestartPolicies))
	}
	if fp := s.PodFailurePolicy; fp != nil {
		pp := p.Child("podFailurePolicy")
		if s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			errs = append(errs, field.Invalid(rp, s.Template.Spec.RestartPolicy, "only \"Never\" is supported when podFailurePolicy is specified"))
		}
		if len(fp.Rules) > 20 {
			errs = append(errs, field.TooMany(pp.Child("rules"), len(fp.Rules), 20))
		}
		for i, r := range fp.Rules {
			rp := pp.Child("rules").Index(i)
			switch r.Action {
			case batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore:
			case batchv1.PodFailurePolicyActionFailIndex:
				if s.BackoffLimitPerIndex == nil {
					errs = append(errs, field.Invalid(rp.Child("action"), r.Action, "requires backoffLimitPerIndex to be set"))
				}
			default:
				errs = append(errs, field.NotSupported(rp.Child("action"), r.Action, jobFailurePolicyActions))
			}
			if (r.OnExitCodes == nil) == (len(r.OnPodConditions) == 0) {
				errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
			}
		}
	}
	return errs
}

func validateJobUpdate(n, o *batchv1.Job) field.ErrorList {
	p := field.NewPath("spec")
	errs := extImmutable(n.Spec.Selector, o.Spec.Selector, p.Child("selector"))
	errs = append(errs, extImmutable(n.Spec.CompletionMode, o.Spec.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, extImmutable(n.Spec.PodFailurePolicy, o.Spec.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, extImmutable(n.Spec.BackoffLimitPerIndex, o.Spec.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	errs = append(errs, extImmutable(n.Spec.SuccessPolicy, o.Spec.SuccessPolicy, p.Child("successPolicy"))...)
	// An Indexed job may change completions together with parallelism (scaling it).
	elastic := n.Spec.CompletionMode != nil && *n.Spec.CompletionMode == batchv1.IndexedCompletion &&
		n.Spec.Completions != nil && n.Spec.Parallelism != nil && *n.Spec.Completions == *n.Spec.Parallelism
	if !elastic {
		errs = append(errs, extImmutable(n.Spec.Completions, o.Spec.Completions, p.Child("completions"))...)
	}
	if !equality.Semantic.DeepEqual(n.Spec.Template, o.Spec.Template) {
		// A suspended job that never started may still change where its pods run.
		suspendedFresh := o.Spec.Suspend != nil && *o.Spec.Suspend && o.Status.StartTime == nil
		if !suspendedFresh || !onlySchedulingChanged(&n.Spec.Template, &o.Spec.Template) {
			errs = append(errs, field.Invalid(p.Child("template"), n.Spec.Template, "field is immutable"))
		}
	}
	return errs
}

// onlySchedulingChanged reports whether two pod templates differ only in labels,
// annotations, node selector, affinity, tolerations and scheduling gates.
func onlySchedulingChanged(a, b *corev1.PodTemplateSpec) bool {
	x, y := a.DeepCopy(), b.DeepCopy()
	for _, t := range []*corev1.PodTemplateSpec{x, y} {
		t.Labels, t.Annotations = nil, nil
		t.Spec.NodeSelector, t.Spec.Affinity, t.Spec.Tolerations, t.Spec.SchedulingGates = nil, nil, nil, nil
	}
	return equality.Semantic.DeepEqual(x, y)
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func jobStatusText(j *batchv1.Job) string {
	switch {
	case jobCondition(j, batchv1.JobComplete):
		return "Complete"
	case jobCondition(j, batchv1.JobFailed):
		return "Failed"
	case j.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(j, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(j, batchv1.JobFailureTarget):
		return "FailureTarget"
	case jobCondition(j, batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	}
	return "Running"
}

func jobCompletionsText(j *batchv1.Job) string {
	if j.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	}
	if j.Spec.Parallelism != nil && *j.Spec.Parallelism > 1 {
		return fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, *j.Spec.Parallelism)
	}
	return fmt.Sprintf("%d/1", j.Status.Succeeded)
}

func jobDurationText(j *batchv1.Job, now time.Time) string {
	switch {
	case j.Status.StartTime == nil:
		return ""
	case j.Status.CompletionTime == nil:
		return duration.HumanDuration(now.Sub(j.Status.StartTime.Time))
	default:
		return duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
}

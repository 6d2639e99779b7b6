package registry

import (
	"context"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zone names must resolve on machines without a zoneinfo database

	batchv1 "k8s.io/api/batch/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxCronJobNameLength leaves room for the suffix a CronJob adds to the names of
// its jobs (a dash and the scheduled time in minutes), within the 63 characters a
// job name may have.
const maxCronJobNameLength = 52

func init() {
	register(&Resource{
		Group: "batch", Version: "v1", Resource: "cronjobs", Kind: "CronJob", Namespaced: true,
		ShortNames: []string{"cj"},
		Categories: []string{"all"},
		New:        func() runtime.Object { return &batchv1.CronJob{} },
		NewList:    func() runtime.Object { return &batchv1.CronJobList{} },
		Status:     true,
		Generation: true,
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultCronJob(obj.(*batchv1.CronJob)) },
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateCronJob(obj.(*batchv1.CronJob))
			},
		},
		Columns: extCols([]metav1.TableColumnDefinition{
			extNameColumn("cron job"),
			{Name: "Schedule", Type: "string", Description: "When jobs are started, in cron format."},
			{Name: "Timezone", Type: "string", Description: "Time zone the schedule is read in."},
			{Name: "Suspend", Type: "boolean", Description: "Whether new jobs are held back."},
			{Name: "Active", Type: "integer", Description: "Number of jobs running now."},
			{Name: "Last Schedule", Type: "string", Description: "Time since a job was last started."},
			extAgeColumn("cron job"),
		}, extTemplateColumns(true)),
		Row: func(obj runtime.Object) []interface{} {
			cj := obj.(*batchv1.CronJob)
			c, i := extContainersImages(&cj.Spec.JobTemplate.Spec.Template.Spec)
			tz := "<none>"
			if cj.Spec.TimeZone != nil {
				tz = *cj.Spec.TimeZone
			}
			suspend := "<unset>"
			if cj.Spec.Suspend != nil {
				suspend = "False"
				if *cj.Spec.Suspend {
					suspend = "True"
				}
			}
			last := "<none>"
			if cj.Status.LastScheduleTime != nil {
				last = Age(*cj.Status.LastScheduleTime)
			}
			return []interface{}{
				cj.Name, cj.Spec.Schedule, tz, suspend, int64(len(cj.Status.Active)), last, Age(cj.CreationTimestamp),
				c, i, extSelectorText(cj.Spec.JobTemplate.Spec.Selector),
			}
		},
	})
}

func defaultCronJob(cj *batchv1.CronJob) {
	s := &cj.Spec
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if s.Suspend == nil {
		s.Suspend = extPtr(false)
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = extPtr[int32](3)
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = extPtr[int32](1)
	}
	DefaultPodTemplate(&s.JobTemplate.Spec.Template)
}

var concurrencyPolicies = []string{string(batchv1.AllowConcurrent), string(batchv1.ForbidConcurrent), string(batchv1.ReplaceConcurrent)}

func validateCronJob(cj *batchv1.CronJob) field.ErrorList {
	var errs field.ErrorList
	if len(cj.Name) > maxCronJobNameLength {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, fmt.Sprintf("must be no more than %d characters", maxCronJobNameLength)))
	}
	s := &cj.Spec
	p := field.NewPath("spec")
	errs = append(errs, validateCronSchedule(s.Schedule, p.Child("schedule"))...)
	errs = append(errs, validateTimeZone(s.TimeZone, p.Child("timeZone"))...)
	switch s.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		errs = append(errs, field.Required(p.Child("concurrencyPolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(p.Child("concurrencyPolicy"), s.ConcurrencyPolicy, concurrencyPolicies))
	}
	if s.StartingDeadlineSeconds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*s.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	}
	errs = append(errs, extNonNeg32(s.SuccessfulJobsHistoryLimit, p.Child("successfulJobsHistoryLimit"))...)
	errs = append(errs, extNonNeg32(s.FailedJobsHistoryLimit, p.Child("failedJobsHistoryLimit"))...)

	jp := p.Child("jobTemplate")
	jm := &s.JobTemplate.ObjectMeta
	errs = append(errs, metav1validation.ValidateLabels(jm.Labels, jp.Child("metadata", "labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(jm.Annotations, jp.Child("metadata", "annotations"))...)
	js := &s.JobTemplate.Spec
	if js.Selector != nil {
		errs = append(errs, field.Invalid(jp.Child("spec", "selector"), js.Selector, "`selector` will be auto-generated"))
	}
	if isManualSelector(js) {
		errs = append(errs, field.NotSupported(jp.Child("spec", "manualSelector"), js.ManualSelector, []string{"nil", "false"}))
	}
	errs = append(errs, validateJobSpec(js, jp.Child("spec"))...)
	return errs
}

func validateCronSchedule(schedule string, p *field.Path) field.ErrorList {
	if schedule == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	if strings.Contains(schedule, "TZ=") {
		return field.ErrorList{field.Invalid(p, schedule, "cannot use TZ or CRON_TZ in schedule, use the timeZone field instead")}
	}
	if _, err := ParseSchedule(schedule); err != nil {
		return field.ErrorList{field.Invalid(p, schedule, err.Error())}
	}
	return nil
}

func validateTimeZone(tz *string, p *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" || strings.EqualFold(*tz, "Local") {
		return field.ErrorList{field.Invalid(p, *tz, "must be an explicit time zone name from the IANA database (e.g. 'Etc/UTC')")}
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		return field.ErrorList{field.Invalid(p, *tz, "unknown time zone "+*tz)}
	}
	return nil
}

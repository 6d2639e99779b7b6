package registry

import (
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// events.k8s.io/v1 Events are the core/v1 Events seen through another schema; they
// share its storage, rules and table. The core resource is registered by
// events.go, whose init runs before this file's (files initialize in name order).
func init() {
	core := findRegistered("", "v1", "events")
	if core == nil {
		return
	}
	register(&Resource{
		Group: "events.k8s.io", Version: "v1", Resource: "events", Kind: "Event", Namespaced: true,
		ShortNames: core.ShortNames,
		New:        func() runtime.Object { return &eventsv1.Event{} },
		NewList:    func() runtime.Object { return &eventsv1.EventList{} },
		StoredAs:   core,
		ToStored: func(obj runtime.Object) (runtime.Object, error) {
			return EventToCore(obj.(*eventsv1.Event)), nil
		},
		FromStored: func(obj runtime.Object) (runtime.Object, error) {
			return EventFromCore(obj.(*corev1.Event)), nil
		},
		Columns: core.Columns,
		Row: func(obj runtime.Object) []interface{} {
			if core.Row == nil {
				return nil
			}
			return core.Row(EventToCore(obj.(*eventsv1.Event)))
		},
	})
}

// findRegistered returns a resource registered so far, or nil.
func findRegistered(group, version, resource string) *Resource {
	for _, r := range registered {
		if r.Group == group && r.Version == version && r.Resource == resource {
			return r
		}
	}
	return nil
}

// EventToCore converts an events.k8s.io/v1 Event to the core/v1 Event it is stored as.
func EventToCore(in *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          *in.ObjectMeta.DeepCopy(),
		InvolvedObject:      in.Regarding,
		Reason:              in.Reason,
		Message:             in.Note,
		Source:              in.DeprecatedSource,
		FirstTimestamp:      in.DeprecatedFirstTimestamp,
		LastTimestamp:       in.DeprecatedLastTimestamp,
		Count:               in.DeprecatedCount,
		Type:                in.Type,
		EventTime:           in.EventTime,
		Action:              in.Action,
		ReportingController: in.ReportingController,
		ReportingInstance:   in.ReportingInstance,
	}
	if in.Series != nil {
		out.Series = &corev1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
	if in.Related != nil {
		r := *in.Related
		out.Related = &r
	}
	return out
}

// EventFromCore converts a stored core/v1 Event to events.k8s.io/v1.
func EventFromCore(in *corev1.Event) *eventsv1.Event {
	out := &eventsv1.Event{
		ObjectMeta:               *in.ObjectMeta.DeepCopy(),
		EventTime:                in.EventTime,
		ReportingController:      in.ReportingController,
		ReportingInstance:        in.ReportingInstance,
		Action:                   in.Action,
		Reason:                   in.Reason,
		Regarding:                in.InvolvedObject,
		Note:                     in.Message,
		Type:                     in.Type,
		DeprecatedSource:         in.Source,
		DeprecatedFirstTimestamp: in.FirstTimestamp,
		DeprecatedLastTimestamp:  in.LastTimestamp,
		DeprecatedCount:          in.Count,
	}
	if in.Series != nil {
		out.Series = &eventsv1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
	if in.Related != nil {
		r := *in.Related
		out.Related = &r
	}
	return out
}

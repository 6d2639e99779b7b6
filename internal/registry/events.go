package registry

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// eventTTL is how long an event lives after its last write.
const eventTTL int64 = 3600

// CoreEvents is the core/v1 events resource. events.k8s.io/v1 events share its
// storage (StoredAs).
var CoreEvents = &Resource{
	Group: "", Version: "v1", Resource: "events", Kind: "Event", Namespaced: true,
	ShortNames: []string{"ev"},
	New:        func() runtime.Object { return &corev1.Event{} },
	NewList:    func() runtime.Object { return &corev1.EventList{} },
	TTL:        func(runtime.Object) int64 { return eventTTL },
	Fields: func(obj runtime.Object) fields.Set {
		e := obj.(*corev1.Event)
		source := e.Source.Component
		if source == "" {
			source = e.ReportingController
		}
		return fields.Set{
			"involvedObject.kind":            e.InvolvedObject.Kind,
			"involvedObject.namespace":       e.InvolvedObject.Namespace,
			"involvedObject.name":            e.InvolvedObject.Name,
			"involvedObject.uid":             string(e.InvolvedObject.UID),
			"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
			"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
			"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
			"reason":                         e.Reason,
			"reportingComponent":             e.ReportingController,
			"source":                         source,
			"type":                           e.Type,
		}
	},
	Strategy: Strategy{
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateEvent(obj.(*corev1.Event))
		},
	},
	Columns: []metav1.TableColumnDefinition{
		{Name: "Last Seen", Type: "string", Description: "Time since the event was last seen."},
		{Name: "Type", Type: "string", Description: "Normal or Warning."},
		{Name: "Reason", Type: "string", Description: "Why the event happened, in one word."},
		{Name: "Object", Type: "string", Description: "The object the event is about (kind/name)."},
		{Name: "Subobject", Type: "string", Priority: 1, Description: "The part of the object, such as a container."},
		{Name: "Source", Type: "string", Priority: 1, Description: "The component (and host) that reported it."},
		{Name: "Message", Type: "string", Description: "What happened, for a person to read."},
		{Name: "First Seen", Type: "string", Priority: 1, Description: "Time since the event was first seen."},
		{Name: "Count", Type: "string", Priority: 1, Description: "How many times it happened."},
		{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: "Name of the event."},
	},
	Row: func(obj runtime.Object) []interface{} { return eventRow(obj.(*corev1.Event)) },
}

func init() { register(CoreEvents) }

// clusterScopedKinds are kinds whose events carry no namespace of their own.
var clusterScopedKinds = map[string]bool{
	"Node": true, "Namespace": true, "PersistentVolume": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"StorageClass": true, "PriorityClass": true, "CustomResourceDefinition": true, "CSINode": true,
	"CertificateSigningRequest": true, "APIService": true, "ValidatingWebhookConfiguration": true,
	"MutatingWebhookConfiguration": true, "RuntimeClass": true, "VolumeAttachment": true, "IngressClass": true,
}

func validateEvent(e *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	np := field.NewPath("involvedObject", "namespace")
	ns := e.InvolvedObject.Namespace
	switch {
	case ns == "" && !clusterScopedKinds[e.InvolvedObject.Kind]:
		// Old clients record events about objects of unknown scope in "default".
		if e.Namespace != metav1.NamespaceDefault && e.Namespace != "" && e.InvolvedObject.Kind != "" {
			errs = append(errs, field.Invalid(np, ns, "does not match event.namespace"))
		}
	case ns != "" && ns != e.Namespace:
		errs = append(errs, field.Invalid(np, ns, "does not match event.namespace"))
	}
	if ns != "" {
		errs = append(errs, checkDNSLabel(np, ns)...)
	}
	if e.ReportingController != "" {
		errs = append(errs, checkQualifiedName(field.NewPath("reportingComponent"), e.ReportingController)...)
		if len(e.ReportingInstance) > 128 {
			errs = append(errs, field.TooLong(field.NewPath("reportingInstance"), "", 128))
		}
		if len(e.Action) > 128 {
			errs = append(errs, field.TooLong(field.NewPath("action"), "", 128))
		}
		if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
			errs = append(errs, field.NotSupported(field.NewPath("type"), e.Type, []string{corev1.EventTypeNormal, corev1.EventTypeWarning}))
		}
	}
	if e.Series != nil && e.Series.Count < 2 {
		errs = append(errs, field.Invalid(field.NewPath("series", "count"), e.Series.Count, "should be at least 2"))
	}
	return errs
}

// eventRow: Last Seen, Type, Reason, Object, Subobject, Source, Message, First
// Seen, Count, Name.
func eventRow(e *corev1.Event) []interface{} {
	first := Age(e.FirstTimestamp)
	if e.FirstTimestamp.IsZero() {
		first = microAge(e.EventTime)
	}
	last := Age(e.LastTimestamp)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := e.Count
	if e.Series != nil {
		last = microAge(e.Series.LastObservedTime)
		count = e.Series.Count
	} else if count == 0 {
		count = 1
	}
	object := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		object += "/" + e.InvolvedObject.Name
	}
	component, host := e.Source.Component, e.Source.Host
	if component == "" {
		component = e.ReportingController
	}
	if host == "" {
		host = e.ReportingInstance
	}
	source := component
	if host != "" {
		source += ", " + host
	}
	return []interface{}{
		last, e.Type, e.Reason, object, e.InvolvedObject.FieldPath, source,
		strings.TrimSpace(e.Message), first, int64(count), e.Name,
	}
}

func microAge(t metav1.MicroTime) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return Age(metav1.NewTime(t.Time))
}

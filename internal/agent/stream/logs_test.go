package stream

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func podWith(statuses ...corev1.ContainerStatus) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{NodeName: "n", InitContainers: []corev1.Container{{Name: "init"}},
			Containers: []corev1.Container{{Name: "c"}, {Name: "d"}}},
		Status: corev1.PodStatus{ContainerStatuses: statuses},
	}
}

func terminated(id string) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{ContainerID: id, ExitCode: 1}
}

func TestLogContainerID(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	cases := []struct {
		name     string
		pod      *corev1.Pod
		ctr      string
		previous bool
		want     string
		wantErr  string
	}{
		{name: "running", pod: podWith(corev1.ContainerStatus{Name: "c", State: running, ContainerID: "containerd://b",
			LastTerminationState: corev1.ContainerState{Terminated: terminated("containerd://a")}}), ctr: "c", want: "containerd://b"},
		{name: "previous of a running container", pod: podWith(corev1.ContainerStatus{Name: "c", State: running, ContainerID: "containerd://b",
			LastTerminationState: corev1.ContainerState{Terminated: terminated("containerd://a")}}), ctr: "c", previous: true, want: "containerd://a"},
		{name: "no previous", pod: podWith(corev1.ContainerStatus{Name: "c", State: running, ContainerID: "containerd://b"}), ctr: "c", previous: true,
			wantErr: `previous terminated container "c" in pod "p" not found`},
		{name: "crash loop shows the last run", pod: podWith(corev1.ContainerStatus{Name: "c",
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: terminated("containerd://a")}}), ctr: "c", want: "containerd://a"},
		{name: "crash loop previous is the last run", pod: podWith(corev1.ContainerStatus{Name: "c",
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: terminated("containerd://a")}}), ctr: "c", previous: true, want: "containerd://a"},
		{name: "terminated", pod: podWith(corev1.ContainerStatus{Name: "c", ContainerID: "containerd://t",
			State: corev1.ContainerState{Terminated: terminated("containerd://t")}}), ctr: "c", want: "containerd://t"},
		{name: "creating", pod: podWith(corev1.ContainerStatus{Name: "c",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}), ctr: "c",
			wantErr: `container "c" in pod "p" is waiting to start: ContainerCreating`},
		{name: "no status yet", pod: podWith(), ctr: "c", wantErr: `container "c" in pod "p" is waiting to start: ContainerCreating`},
		{name: "image pull back-off", pod: podWith(corev1.ContainerStatus{Name: "c",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}), ctr: "c",
			wantErr: `container "c" in pod "p" is waiting to start: trying and failing to pull image`},
		{name: "image pull error", pod: podWith(corev1.ContainerStatus{Name: "c",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}}), ctr: "c",
			wantErr: `container "c" in pod "p" is waiting to start: image can't be pulled`},
		{name: "init container", pod: func() *corev1.Pod {
			p := podWith()
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{Terminated: terminated("containerd://i")}}}
			return p
		}(), ctr: "init", want: "containerd://i"},
		{name: "unknown container", pod: podWith(), ctr: "x", wantErr: "container x is not valid for pod p"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := logContainerID(tc.pod, tc.ctr, tc.previous)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || !apierrors.IsBadRequest(err) {
					t.Fatalf("got %q, %v; want a bad request %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseLogQuery(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		query   string
		want    logRequest
		wantErr bool
	}{
		{"", logRequest{opts: LogOptions{TailLines: -1}}, false},
		{"follow=true&timestamps=1&previous=true&tailLines=5&limitBytes=100",
			logRequest{opts: LogOptions{Follow: true, Timestamps: true, TailLines: 5, LimitBytes: 100}, previous: true}, false},
		{"sinceSeconds=10", logRequest{opts: LogOptions{TailLines: -1, Since: now.Add(-10 * time.Second)}}, false},
		{"sinceTime=2024-05-01T09:00:00Z", logRequest{opts: LogOptions{TailLines: -1, Since: now.Add(-time.Hour)}}, false},
		{"sinceTime=2024-05-01T09:00:00Z&sinceSeconds=3", logRequest{}, true},
		{"tailLines=-1", logRequest{}, true},
		{"limitBytes=0", logRequest{}, true},
		{"sinceSeconds=0", logRequest{}, true},
		{"follow=maybe", logRequest{}, true},
		{"sinceTime=yesterday", logRequest{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			got, err := parseLogQuery(q, now)
			if tc.wantErr {
				if err == nil || !apierrors.IsBadRequest(err) {
					t.Fatalf("got %+v, %v; want a bad request", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.previous != tc.want.previous || got.opts.Follow != tc.want.opts.Follow || got.opts.Timestamps != tc.want.opts.Timestamps ||
				got.opts.TailLines != tc.want.opts.TailLines || got.opts.LimitBytes != tc.want.opts.LimitBytes || !got.opts.Since.Equal(tc.want.opts.Since) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// logRuntime answers container status with a log file.
type logRuntime struct {
	fakeRuntime
	path  string
	state runtimeapi.ContainerState
}

func (r *logRuntime) ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	if id != "abc" {
		return nil, apierrors.NewNotFound(corev1.Resource("containers"), id)
	}
	return &runtimeapi.ContainerStatus{Id: id, LogPath: r.path, State: r.state}, nil
}

func TestServeLogs(t *testing.T) {
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	path := writeLog(t, criLog(base, "a", "E:b", "c"))
	rt := &logRuntime{path: path, state: runtimeapi.ContainerState_CONTAINER_EXITED}
	pods := map[string]*corev1.Pod{
		"p": podWith(corev1.ContainerStatus{Name: "c", ContainerID: "containerd://abc", State: corev1.ContainerState{Terminated: terminated("containerd://abc")}}),
		"waiting": func() *corev1.Pod {
			p := podWith()
			p.Name = "waiting"
			return p
		}(),
		"elsewhere": func() *corev1.Pod {
			p := podWith()
			p.Spec.NodeName = "other"
			return p
		}(),
	}
	s := New(Config{NodeName: "n", Runtime: rt, Pod: func(_ context.Context, ns, name string) (*corev1.Pod, error) {
		if p, ok := pods[name]; ok && ns == "ns" {
			return p, nil
		}
		return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
	}})
	mux := http.NewServeMux()
	s.routes(mux, func(h http.HandlerFunc) http.Handler { return h })
	cases := []struct {
		path     string
		wantCode int
		want     string
	}{
		{"/containerLogs/ns/p/c", 200, "a\nb\nc\n"},
		{"/containerLogs/ns/p/c?tailLines=1&timestamps=true", 200, "2024-05-01T10:00:02Z c\n"},
		{"/containerLogs/ns/p/c?follow=true", 200, "a\nb\nc\n"}, // exited: follow ends at the end
		{"/containerLogs/ns/waiting/c", 400, `container \"c\" in pod \"waiting\" is waiting to start: ContainerCreating`},
		{"/containerLogs/ns/gone/c", 404, `pods \"gone\" not found`},
		{"/containerLogs/ns/elsewhere/c", 404, `not found`},
		{"/containerLogs/ns/p/c?tailLines=x", 400, "tailLines"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r := httptest.NewRequest("GET", tc.path, nil).WithContext(ctx)
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code != tc.wantCode || !strings.Contains(w.Body.String(), tc.want) {
				t.Fatalf("answer %d %q, want %d with %q", w.Code, w.Body.String(), tc.wantCode, tc.want)
			}
			if tc.wantCode != 200 {
				var st metav1.Status
				if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Kind != "Status" || int(st.Code) != tc.wantCode {
					t.Errorf("not a Status: %s", w.Body.String())
				}
			}
		})
	}
}

package stream

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// logRequest is a parsed log query.
type logRequest struct {
	opts     LogOptions
	previous bool
}

// parseLogQuery reads the query of a log request (the names of the Kubernetes
// PodLogOptions). now anchors sinceSeconds.
func parseLogQuery(q url.Values, now time.Time) (logRequest, error) {
	lr := logRequest{opts: LogOptions{TailLines: -1}}
	var err error
	if lr.opts.Follow, err = boolParam(q, "follow"); err != nil {
		return lr, err
	}
	if lr.opts.Timestamps, err = boolParam(q, "timestamps"); err != nil {
		return lr, err
	}
	if lr.previous, err = boolParam(q, "previous"); err != nil {
		return lr, err
	}
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return lr, apierrors.NewBadRequest(fmt.Sprintf("tailLines %q must be a non-negative integer", v))
		}
		lr.opts.TailLines = n
	}
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return lr, apierrors.NewBadRequest(fmt.Sprintf("limitBytes %q must be a positive integer", v))
		}
		lr.opts.LimitBytes = n
	}
	secs, since := q.Get("sinceSeconds"), q.Get("sinceTime")
	if secs != "" && since != "" {
		return lr, apierrors.NewBadRequest("at most one of sinceTime or sinceSeconds may be specified")
	}
	if secs != "" {
		n, err := strconv.ParseInt(secs, 10, 64)
		if err != nil || n < 1 {
			return lr, apierrors.NewBadRequest(fmt.Sprintf("sinceSeconds %q must be a positive integer", secs))
		}
		lr.opts.Since = now.Add(-time.Duration(n) * time.Second)
	}
	if since != "" {
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			return lr, apierrors.NewBadRequest(fmt.Sprintf("sinceTime %q is not an RFC 3339 time", since))
		}
		lr.opts.Since = t
	}
	return lr, nil
}

func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, apierrors.NewBadRequest(fmt.Sprintf("%s %q must be true or false", name, v))
	}
	return b, nil
}

// containerStatusOf finds the status of a pod's container (init, regular or
// ephemeral) and whether the pod's spec has it.
func containerStatusOf(pod *corev1.Pod, name string) (*corev1.ContainerStatus, bool) {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i], true
			}
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return nil, true
		}
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return nil, true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return nil, true
		}
	}
	return nil, false
}

// logContainerID says which runtime container a log request reads, from the
// pod's status: the running one, else the one that ended last; with previous,
// the one before the current. A container that never ran has no log yet, and
// the answer says why, as Kubernetes does (400 Bad Request).
func logContainerID(pod *corev1.Pod, name string, previous bool) (string, error) {
	cs, inSpec := containerStatusOf(pod, name)
	if !inSpec {
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
	}
	waiting := func(reason string) error {
		switch reason {
		case "":
			reason = "ContainerCreating"
		case "ErrImagePull":
			reason = "image can't be pulled"
		case "ImagePullBackOff":
			reason = "trying and failing to pull image"
		}
		return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", name, pod.Name, reason))
	}
	if cs == nil {
		if previous {
			return "", apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", name, pod.Name))
		}
		return "", waiting("")
	}
	last := cs.LastTerminationState.Terminated
	cur := cs.State
	switch {
	case previous:
		if last == nil || last.ContainerID == "" {
			return "", apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", name, pod.Name))
		}
		return last.ContainerID, nil
	case cur.Running != nil && cs.ContainerID != "":
		return cs.ContainerID, nil
	case cur.Terminated != nil:
		if id := cur.Terminated.ContainerID; id != "" {
			return id, nil
		}
		if cs.ContainerID != "" {
			return cs.ContainerID, nil
		}
		if last != nil && last.ContainerID != "" {
			return last.ContainerID, nil
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is terminated", name, pod.Name))
	case last != nil:
		if last.ContainerID == "" {
			return "", apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is terminated", name, pod.Name))
		}
		return last.ContainerID, nil
	case cur.Waiting != nil:
		return "", waiting(cur.Waiting.Reason)
	case cs.ContainerID != "":
		// Running according to the runtime, the status not written yet.
		return cs.ContainerID, nil
	}
	return "", waiting("")
}

// runtimeID strips the runtime's scheme from a status containerID.
func runtimeID(id string) string {
	if _, after, ok := strings.Cut(id, "://"); ok {
		return after
	}
	return id
}

func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ns, podName, name := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	lr, err := parseLogQuery(r.URL.Query(), time.Now())
	if err != nil {
		writeStatus(w, err)
		return
	}
	pod, err := s.cfg.Pod(ctx, ns, podName)
	if err != nil {
		writeStatus(w, err)
		return
	}
	if pod.Spec.NodeName != s.cfg.NodeName {
		writeStatus(w, apierrors.NewNotFound(corev1.Resource("pods"), podName))
		return
	}
	cid, err := logContainerID(pod, name, lr.previous)
	if err != nil {
		writeStatus(w, err)
		return
	}
	id := runtimeID(cid)
	st, err := s.cfg.Runtime.ContainerStatus(ctx, id)
	if err != nil {
		writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is not available: %v", name, podName, err)))
		return
	}
	path := st.GetLogPath()
	if path == "" {
		writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q has no log", name, podName)))
		return
	}
	// A followed log asks the runtime at most twice a second whether its
	// container still runs.
	var checked time.Time
	alive := true
	running := func() bool {
		if time.Since(checked) < 500*time.Millisecond {
			return alive
		}
		checked = time.Now()
		st, err := s.cfg.Runtime.ContainerStatus(ctx, id)
		alive = err == nil && (st.State == runtimeapi.ContainerState_CONTAINER_RUNNING || st.State == runtimeapi.ContainerState_CONTAINER_CREATED)
		return alive
	}
	w.Header().Set("Content-Type", "text/plain")
	if err := waitForFile(ctx, path, lr.opts.Follow, running); err != nil {
		return // created but silent so far: an empty log
	}
	rc := http.NewResponseController(w)
	// Once the headers are out an error can only end the log early.
	_ = ReadLog(ctx, path, lr.opts, w, func() { _ = rc.Flush() }, running)
}

// waitForFile waits, when following, for a log file the runtime has not made yet.
func waitForFile(ctx context.Context, path string, follow bool, running func() bool) error {
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if !follow || !running() {
			return os.ErrNotExist
		}
		select {
		case <-ctx.Done():
			return os.ErrNotExist
		case <-time.After(followPoll):
		}
	}
}

package job

import (
	"fmt"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"tug/internal/controller/podutil"
)

// completionIndexEnv tells the containers of an Indexed job's pod their index.
const completionIndexEnv = "JOB_COMPLETION_INDEX"

// newPod builds a pod of job; index is its completion index (-1 when the job is not
// Indexed). The tracking finalizer keeps the pod until the controller has counted it.
func newPod(job *batchv1.Job, index int) *corev1.Pod {
	prefix := job.Name
	if index >= 0 {
		prefix = fmt.Sprintf("%s-%d", job.Name, index)
	}
	pod := podutil.FromTemplate(&job.Spec.Template, job.Namespace, prefix, podutil.NewControllerRef(job, kind))
	pod.Finalizers = append(pod.Finalizers, batchv1.JobTrackingFinalizer)
	if index < 0 {
		return pod
	}
	ix := strconv.Itoa(index)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = ix
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = ix
	if pod.Spec.Hostname == "" {
		pod.Spec.Hostname = prefix
	}
	env := corev1.EnvVar{Name: completionIndexEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		APIVersion: "v1",
		FieldPath:  fmt.Sprintf("metadata.annotations['%s']", batchv1.JobCompletionIndexAnnotation),
	}}}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			addEnv(&cs[i], env)
		}
	}
	return pod
}

func addEnv(c *corev1.Container, e corev1.EnvVar) {
	for _, x := range c.Env {
		if x.Name == e.Name {
			return
		}
	}
	c.Env = append(c.Env, e)
}

func hasFinalizer(pod *corev1.Pod) bool {
	for _, f := range pod.Finalizers {
		if f == batchv1.JobTrackingFinalizer {
			return true
		}
	}
	return false
}

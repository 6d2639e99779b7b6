package scheduler

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	attempts        *prometheus.CounterVec
	attemptDuration prometheus.Histogram
	bindings        prometheus.Counter
	preemptions     prometheus.Counter
	pending         *prometheus.GaugeVec
}

var (
	metricsOnce sync.Once
	theMetrics  *metrics
)

// globalMetrics are shared by every scheduler in the process (one at a time is
// the leader), so that they can be registered once.
func globalMetrics() *metrics {
	metricsOnce.Do(func() {
		theMetrics = &metrics{
			attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "scheduler_schedule_attempts_total",
				Help: "Scheduling attempts by result (scheduled, unschedulable, error).",
			}, []string{"result"}),
			attemptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
				Name:    "scheduler_scheduling_algorithm_duration_seconds",
				Help:    "Time to filter and score the nodes for one pod.",
				Buckets: prometheus.ExponentialBuckets(0.00001, 2, 16),
			}),
			bindings: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "scheduler_bindings_total",
				Help: "Pods bound to nodes.",
			}),
			preemptions: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "scheduler_preemption_attempts_total",
				Help: "Preemptions started (victims chosen).",
			}),
			pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Name: "scheduler_pending_pods",
				Help: "Pods waiting to be scheduled, by queue (active, backoff, unschedulable).",
			}, []string{"queue"}),
		}
	})
	return theMetrics
}

// RegisterMetrics adds the scheduler's metrics to a registry (once).
func RegisterMetrics(r prometheus.Registerer) {
	m := globalMetrics()
	for _, c := range []prometheus.Collector{m.attempts, m.attemptDuration, m.bindings, m.preemptions, m.pending} {
		if err := r.Register(c); err != nil {
			if _, dup := err.(prometheus.AlreadyRegisteredError); !dup {
				panic(err)
			}
		}
	}
}

package apiserver

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// writeError answers with the Status for err, in protobuf when the client prefers it.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := statusFor(err)
	if st.Code == http.StatusInternalServerError {
		slog.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	code := int(st.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	writeStatus(w, r, code, st)
}

func writeStatus(w http.ResponseWriter, r *http.Request, code int, st *metav1.Status) {
	media := mediaJSON
	if o, err := negotiate(r); err == nil && o.as == "" {
		media = o.media
	}
	st.Kind, st.APIVersion = "Status", "v1"
	b, err := encode(media, st)
	if err != nil {
		media = mediaJSON
		b, _ = encodeMeta(mediaJSON, st)
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout {
		if st.Details != nil && st.Details.RetryAfterSeconds > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(st.Details.RetryAfterSeconds)))
		}
	}
	writeRaw(w, code, media, b)
}

var (
	requestTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "apiserver_request_total", Help: "API requests by verb, resource and HTTP code.",
	}, []string{"verb", "group", "resource", "subresource", "code"})
	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "apiserver_request_duration_seconds", Help: "API request latency by verb and resource (watches excluded).",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"verb", "group", "resource"})
	inflight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "apiserver_current_inflight_requests", Help: "Requests being served, by kind (watch or other).",
	}, []string{"kind"})
)

// Registry is the metrics registry of the API server process.
var Registry = prometheus.NewRegistry()

func init() {
	Registry.MustRegister(requestTotal, requestDuration, inflight,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (for upgrades).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func withMetrics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		info := parseRequestInfo(r)
		kind := "other"
		if info.Verb == "watch" {
			kind = "watch"
		}
		g := inflight.WithLabelValues(kind)
		g.Inc()
		defer func() {
			g.Dec()
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			requestTotal.WithLabelValues(info.Verb, info.Group, info.Resource, info.Subresource, strconv.Itoa(code)).Inc()
			if info.Verb != "watch" {
				requestDuration.WithLabelValues(info.Verb, info.Group, info.Resource).Observe(time.Since(start).Seconds())
			}
			slog.Debug("request", "method", r.Method, "path", r.URL.Path, "code", code, "duration", time.Since(start))
		}()
		next.ServeHTTP(rec, r)
	})
}

func servePprof(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}

func serveMetrics(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"tug/internal/agent/cri"
	"tug/internal/agent/kubelet"
	"tug/internal/agent/stats"
)

// Server is the node's HTTPS endpoint (the port published in the Node's
// daemonEndpoints): health, pods, stats and resource metrics, for clients
// holding a certificate of the cluster's CA. Streaming (logs, exec, attach,
// port-forward) is added through Handle.
type Server struct {
	Node    *Node
	Kubelet *kubelet.Kubelet
	Runtime *cri.Client
	// GetCertificate, if set, supplies the serving certificate (one signed by
	// the cluster CA); otherwise the server uses a self-signed one.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)

	mu    sync.Mutex
	mux   *http.ServeMux
	stats *stats.Collector
}

// Handle adds a route to the node's server (for example the streaming
// endpoints). Routes are checked against the client certificate like the rest.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureMux()
	s.mux.Handle(pattern, h)
}

func (s *Server) ensureMux() {
	if s.mux != nil {
		return
	}
	s.mux = http.NewServeMux()
	s.stats = &stats.Collector{NodeName: s.Node.Name, Runtime: s.Runtime}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	s.mux.HandleFunc("GET /pods", s.pods)
	s.mux.HandleFunc("GET /stats/summary", s.summary)
	s.mux.HandleFunc("GET /metrics/resource", s.resourceMetrics)
}

// Serve serves on l until ctx ends. Clients must present a certificate signed
// by the cluster CA (taken from rc).
func (s *Server) Serve(ctx context.Context, l net.Listener, rc *rest.Config) error {
	s.mu.Lock()
	s.ensureMux()
	s.mu.Unlock()
	cert, err := selfSigned(s.Node.Name, s.Node.IP)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if len(rc.TLSClientConfig.CAData) > 0 {
		pool.AppendCertsFromPEM(rc.TLSClientConfig.CAData)
	}
	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
	if s.GetCertificate != nil {
		tlsCfg.Certificates = nil
		tlsCfg.GetCertificate = s.GetCertificate
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err = srv.Serve(tls.NewListener(l, tlsCfg))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) pods(w http.ResponseWriter, r *http.Request) {
	list := s.Kubelet.RunningPods()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "PodList", "apiVersion": "v1", "metadata": map[string]any{}, "items": list})
}

func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	sum, err := s.stats.Summary(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(sum)
}

func (s *Server) resourceMetrics(w http.ResponseWriter, r *http.Request) {
	sum, err := s.stats.Summary(r.Context())
	if err != nil {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("# HELP scrape_error 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE scrape_error gauge\nscrape_error 1\n"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	stats.WriteResourceMetrics(w, sum)
}

// selfSigned makes the node's serving certificate.
func selfSigned(name string, ip net.IP) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{name},
	}
	if ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

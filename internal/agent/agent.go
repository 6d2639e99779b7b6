// Package agent is `tug agent`: it joins a node to the cluster with the join token,
// then runs the node under its own identity, either with a NodeRunner (the node
// agent that runs containers) or as N hollow nodes that only pretend to.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"tug/internal/agent/hollow"
	"tug/internal/agent/join"
	"tug/internal/memory"
)

// NodeIdentity is a joined node: its name and where its credential lives.
type NodeIdentity struct {
	Name string
	// Dir is the node's data directory.
	Dir string
	// Kubeconfig is the node's own kubeconfig (0600), usable by any client.
	Kubeconfig string
}

// NodeRunner runs a joined node until ctx ends. cfg speaks as system:node:NAME.
type NodeRunner interface {
	Run(ctx context.Context, cfg *rest.Config, id NodeIdentity) error
}

// Config configures `tug agent`.
type Config struct {
	// Server is the API server URL.
	Server string
	// TokenFile holds the join token (DATA/node-token on the server). It may be
	// left out once the node(s) hold a valid credential.
	TokenFile string
	// Name is the node's name; with Hollow, the prefix of the nodes' names
	// unless NamePrefix is set.
	Name       string
	NamePrefix string
	// DataDir holds the node's credential (DATA/kubeconfig, DATA/pki/) and, for
	// hollow nodes, one directory per node under DATA/hollow/.
	DataDir string
	// Hollow, when positive, runs that many simulated nodes in this process.
	Hollow int
	// HollowNodes configures them (Nodes and Watch are filled in here).
	HollowNodes hollow.Config
	// JoinOnly joins (or checks the saved credential) and returns.
	JoinOnly bool
	// JoinParallel bounds concurrent joins of hollow nodes (default 32).
	JoinParallel int
	// Runner runs a real node; without one only hollow nodes can run.
	Runner NodeRunner
}

// tune makes a node client speak protobuf at a node agent's request rate.
func tune(c *rest.Config) {
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	c.QPS, c.Burst = 50, 100
}

// Run joins and runs the node(s) until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Server == "" {
		return errors.New("--server is required (the API server URL, e.g. https://127.0.0.1:6443)")
	}
	if cfg.DataDir == "" {
		return errors.New("--data-dir is required")
	}
	var token join.Token
	if cfg.TokenFile != "" {
		t, err := join.ReadTokenFile(cfg.TokenFile)
		if err != nil {
			return err
		}
		token = t
	}
	if cfg.Hollow > 0 {
		// Hollow nodes are for load tests of the control plane, on the same
		// machine: their agent collects garbage less often (GOGC 200 once the
		// live heap passes 32 MiB; 1,000 nodes hold about 60 MiB) to leave
		// the cores to the server.
		go memory.TuneGC(ctx, 32<<20)
		return runHollow(ctx, cfg, token)
	}
	if cfg.Name == "" {
		return errors.New("--name is required")
	}
	start := time.Now()
	cred, err := join.Join(ctx, join.Config{Server: cfg.Server, Token: token, NodeName: cfg.Name, Dir: cfg.DataDir, Tune: tune})
	if err != nil {
		return fmt.Errorf("join as node %s: %w", cfg.Name, err)
	}
	id := NodeIdentity{Name: cfg.Name, Dir: cfg.DataDir, Kubeconfig: filepath.Join(cfg.DataDir, join.KubeconfigFile)}
	slog.Info("node joined", "node", cfg.Name, "user", join.NodeUserPrefix+cfg.Name, "kubeconfig", id.Kubeconfig,
		"certificate-expires", cred.NotAfter.Format(time.RFC3339), "took", time.Since(start).Round(time.Millisecond))
	if cfg.JoinOnly {
		return nil
	}
	if cfg.Runner == nil {
		return errors.New("this build of tug agent cannot run containers yet; run simulated nodes with --hollow N")
	}
	rc := cred.RESTConfig()
	tune(rc)
	return cfg.Runner.Run(ctx, rc, id)
}

// HollowNames are the names of n hollow nodes: PREFIX-0 … PREFIX-(n-1).
func HollowNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// HollowDir is a hollow node's directory under the agent's data dir.
func HollowDir(dataDir, node string) string { return filepath.Join(dataDir, "hollow", node) }

// SilenceFile is the file that, while it exists, silences a hollow node.
func SilenceFile(dataDir, node string) string {
	return filepath.Join(HollowDir(dataDir, node), "silence")
}

func runHollow(ctx context.Context, cfg Config, token join.Token) error {
	prefix := cfg.NamePrefix
	if prefix == "" {
		prefix = cfg.Name
	}
	if prefix == "" {
		prefix = "hollow"
	}
	names := HollowNames(strings.ToLower(prefix), cfg.Hollow)
	parallel := cfg.JoinParallel
	if parallel <= 0 {
		parallel = 32
	}
	start := time.Now()
	var caPEM []byte
	if token.Secret != "" {
		var err error
		if caPEM, err = join.FetchCA(ctx, cfg.Server, token); err != nil {
			return err
		}
	}
	creds := make([]*join.Credential, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func(i int, name string) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			creds[i], errs[i] = join.Join(ctx, join.Config{Server: cfg.Server, Token: token, CAPEM: caPEM, NodeName: name, Dir: HollowDir(cfg.DataDir, name), Tune: tune})
			if errs[i] != nil {
				errs[i] = fmt.Errorf("join as node %s: %w", name, errs[i])
			}
		}(i, name)
	}
	wg.Wait()
	if err := errors.Join(firstErrors(errs, 3)...); err != nil {
		return err
	}
	slog.Info("hollow nodes joined", "nodes", len(names), "took", time.Since(start).Round(time.Millisecond))

	hc := cfg.HollowNodes
	hc.Nodes = make([]hollow.NodeSpec, len(names))
	for i, name := range names {
		rc := creds[i].RESTConfig()
		tune(rc)
		httpClient, err := rest.HTTPClientFor(rc)
		if err != nil {
			return err
		}
		core, err := corev1client.NewForConfigAndClient(rc, httpClient)
		if err != nil {
			return err
		}
		coord, err := coordinationv1client.NewForConfigAndClient(rc, httpClient)
		if err != nil {
			return err
		}
		hc.Nodes[i] = hollow.NodeSpec{Name: name, Core: core, Coordination: coord, SilenceFile: SilenceFile(cfg.DataDir, name)}
	}
	// One node's identity reads pods and nodes for all of them.
	wc := creds[0].RESTConfig()
	tune(wc)
	wc.QPS, wc.Burst = -1, -1
	watch, err := kubernetes.NewForConfig(wc)
	if err != nil {
		return err
	}
	hc.Watch = watch
	if cfg.JoinOnly {
		return nil
	}
	return hollow.Run(ctx, hc)
}

// firstErrors keeps the first n errors and counts the rest.
func firstErrors(errs []error, n int) []error {
	var out []error
	more := 0
	for _, e := range errs {
		if e == nil {
			continue
		}
		if len(out) < n {
			out = append(out, e)
		} else {
			more++
		}
	}
	if more > 0 {
		out = append(out, fmt.Errorf("and %d more nodes failed to join", more))
	}
	return out
}

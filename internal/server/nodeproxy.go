package server

import (
	"context"
	"crypto/tls"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"tug/internal/apiserver"
	"tug/internal/auth"
	"tug/internal/nodeproxy"
	"tug/internal/registry"
	"tug/internal/storage"
)

// newNodeProxy builds the connector that carries logs, exec, attach,
// port-forward and node proxy requests to node agents. It presents a client
// certificate of its own, the only identity agents let into those endpoints.
func newNodeProxy(pki *auth.PKI) (*nodeproxy.Proxy, error) {
	certPEM, keyPEM, err := pki.CA.Issue(auth.CertRequest{CommonName: auth.UserAPIServerKubeletClient, Client: true})
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return nodeproxy.New(nodeproxy.Config{ClientCert: cert, RootCAs: pki.CA.Pool()}), nil
}

// storedNodes reads Nodes from the API server's storage.
func storedNodes(api *apiserver.Server, reg *registry.Set) func(ctx context.Context, name string) (*corev1.Node, error) {
	store := api.Store(reg.Lookup(corev1.SchemeGroupVersion.WithResource("nodes")))
	return func(ctx context.Context, name string) (*corev1.Node, error) {
		o, err := store.Get(ctx, "", name, "")
		if err != nil {
			return nil, err
		}
		n, ok := o.Obj.(*corev1.Node)
		if !ok {
			return nil, fmt.Errorf("stored node %s is a %T", name, o.Obj)
		}
		return n, nil
	}
}

// storedPods lists pods from the API server's storage (its cache).
func storedPods(api *apiserver.Server, reg *registry.Set) func(ctx context.Context, ns string, sel labels.Selector) ([]*corev1.Pod, error) {
	store := api.Store(reg.Lookup(corev1.SchemeGroupVersion.WithResource("pods")))
	return func(ctx context.Context, ns string, sel labels.Selector) ([]*corev1.Pod, error) {
		res, err := store.List(ctx, storage.ListOptions{Namespace: ns, Label: sel, ResourceVersion: "0"})
		if err != nil {
			return nil, err
		}
		out := make([]*corev1.Pod, 0, len(res.Items))
		for _, o := range res.Items {
			if p, ok := o.Obj.(*corev1.Pod); ok {
				out = append(out, p)
			}
		}
		return out, nil
	}
}

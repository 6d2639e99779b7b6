package certificates

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"tug/internal/controller"
	"tug/internal/controller/loop"
)

func init() {
	controller.Register("csrapproving", func(c *controller.Context) (controller.Runner, error) {
		return NewApprover(c), nil
	})
	controller.Register("csrsigning", func(c *controller.Context) (controller.Runner, error) {
		return NewSigner(c), nil
	})
}

// Approver approves node client certificate requests from requesters allowed to
// make them, as decided by a SubjectAccessReview against RBAC.
type Approver struct {
	client  kubernetes.Interface
	lister  certlisters.CertificateSigningRequestLister
	synced  cache.InformerSynced
	queue   *loop.Queue
	workers int
}

// NewApprover builds the approver over the shared informers.
func NewApprover(c *controller.Context) *Approver {
	inf := c.Informers.Certificates().V1().CertificateSigningRequests()
	a := &Approver{client: c.Client, lister: inf.Lister(), synced: inf.Informer().HasSynced, queue: loop.New("csrapproving", c.Clock), workers: c.Options.Workers}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    a.queue.AddObject,
		UpdateFunc: func(_, n interface{}) { a.queue.AddObject(n) },
	})
	return a
}

// Run implements controller.Runner.
func (a *Approver) Run(ctx context.Context) { a.queue.Run(ctx, a.workers, a.reconcile, a.synced) }

func (a *Approver) reconcile(ctx context.Context, name string) error {
	csr, err := a.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if approved, denied := decided(csr); approved || denied || len(csr.Status.Certificate) > 0 {
		return nil
	}
	req, err := parseRequest(csr)
	if err != nil {
		return nil // the signer reports unusable requests
	}
	if csr.Spec.SignerName == certificatesv1.KubeletServingSignerName {
		msg, ok, err := a.servingApproval(ctx, csr, req)
		if err != nil || !ok {
			return err
		}
		return a.approve(ctx, csr, msg)
	}
	kind, ok := approvalKind(csr, req)
	if !ok {
		return nil // not ours to decide: left for a person (kubectl certificate approve)
	}
	allowed, err := a.mayRequest(ctx, csr, kind)
	if err != nil {
		return err
	}
	if !allowed {
		slog.Info("certificate request left pending: the requester may not ask for it", "csr", name, "user", csr.Spec.Username, "permission", "certificatesigningrequests/"+kind)
		return nil
	}
	return a.approve(ctx, csr, fmt.Sprintf("node client certificate approved: %s may create certificatesigningrequests/%s", csr.Spec.Username, kind))
}

// approve records the approval of a request.
func (a *Approver) approve(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, message string) error {
	csr = csr.DeepCopy()
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AutoApproved", Message: message,
	})
	_, err := a.client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// mayRequest asks the authorizer whether the CSR's requester holds the permission.
func (a *Approver) mayRequest(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, kind string) (bool, error) {
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range csr.Spec.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: csr.Spec.Username, UID: csr.Spec.UID, Groups: csr.Spec.Groups, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Group: certificatesv1.GroupName, Resource: "certificatesigningrequests", Subresource: kind, Verb: "create",
		},
	}}
	out, err := a.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("ask whether %s may create certificatesigningrequests/%s: %w", csr.Spec.Username, kind, err)
	}
	return out.Status.Allowed, nil
}

// Signer issues certificates for approved requests to the built-in signers.
type Signer struct {
	client   kubernetes.Interface
	lister   certlisters.CertificateSigningRequestLister
	synced   cache.InformerSynced
	queue    *loop.Queue
	workers  int
	sign     func(controller.CertificateRequest) ([]byte, error)
	clock    clock.Clock
	validity time.Duration
}

// defaultValidity is the lifetime of an issued certificate unless the request asks
// for less.
const defaultValidity = 365 * 24 * time.Hour

// NewSigner builds the signer; without Options.Signer it signs nothing.
func NewSigner(c *controller.Context) *Signer {
	inf := c.Informers.Certificates().V1().CertificateSigningRequests()
	s := &Signer{client: c.Client, lister: inf.Lister(), synced: inf.Informer().HasSynced, queue: loop.New("csrsigning", c.Clock),
		workers: c.Options.Workers, sign: c.Options.Signer, clock: c.Clock, validity: defaultValidity}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.queue.AddObject,
		UpdateFunc: func(_, n interface{}) { s.queue.AddObject(n) },
	})
	return s
}

// Run implements controller.Runner.
func (s *Signer) Run(ctx context.Context) {
	if s.sign == nil {
		slog.Warn("no certificate signer configured; approved certificate requests stay unsigned")
		<-ctx.Done()
		return
	}
	s.queue.Run(ctx, s.workers, s.reconcile, s.synced)
}

func (s *Signer) reconcile(ctx context.Context, name string) error {
	csr, err := s.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	check, ours := signerRules[csr.Spec.SignerName]
	if !ours || len(csr.Status.Certificate) > 0 || failed(csr) {
		return nil
	}
	if approved, denied := decided(csr); !approved || denied {
		return nil
	}
	csr = csr.DeepCopy()
	req, err := parseRequest(csr)
	if err == nil {
		err = check(csr, req)
	}
	if err != nil {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "SignerValidationFailure",
			Message: fmt.Sprintf("%s does not sign this request: %v", csr.Spec.SignerName, err),
		})
		return s.writeStatus(ctx, csr)
	}
	cert, err := s.sign(issueRequest(csr, req, s.validity))
	if err != nil {
		return fmt.Errorf("sign certificate request %s: %w", name, err)
	}
	csr.Status.Certificate = cert
	return s.writeStatus(ctx, csr)
}

func (s *Signer) writeStatus(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	_, err := s.client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// issueRequest turns a checked CSR into what the cluster CA certifies.
func issueRequest(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest, max time.Duration) controller.CertificateRequest {
	validity := max
	if e := csr.Spec.ExpirationSeconds; e != nil {
		if d := time.Duration(*e) * time.Second; d < validity {
			validity = d
		}
	}
	out := controller.CertificateRequest{
		CommonName: req.Subject.CommonName, Organizations: append([]string(nil), req.Subject.Organization...),
		PublicKey: req.PublicKey, Validity: validity,
	}
	for _, u := range csr.Spec.Usages {
		switch u {
		case certificatesv1.UsageClientAuth:
			out.Client = true
		case certificatesv1.UsageServerAuth:
			out.Server = true
		}
	}
	if out.Server {
		out.Hosts = append(out.Hosts, req.DNSNames...)
		for _, ip := range req.IPAddresses {
			out.Hosts = append(out.Hosts, ip.String())
		}
	}
	return out
}

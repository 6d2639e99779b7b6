package auth

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The default policy: the ClusterRoles and ClusterRoleBindings every cluster starts
// with. The user-facing roles (admin, edit, view) are meant to be bound in a
// namespace; the system: roles describe what each built-in component needs.

// Bootstrap object markers.
const (
	AutoupdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate"
	BootstrappingLabel   = "kubernetes.io/bootstrapping"
	BootstrappingValue   = "rbac-defaults"
)

// Well-known service account of the cluster DNS.
const (
	DNSServiceAccountNamespace = "kube-system"
	DNSServiceAccountName      = "coredns"
	UserKubeProxy              = "system:kube-proxy"
)

// rule builds a policy rule from space-separated lists: verbs, API groups (use
// "core" for the core group) and resources.
func rule(verbs, groups, resources string) rbacv1.PolicyRule {
	r := rbacv1.PolicyRule{Verbs: strings.Fields(verbs), Resources: strings.Fields(resources)}
	for _, g := range strings.Fields(groups) {
		if g == "core" {
			g = ""
		}
		r.APIGroups = append(r.APIGroups, g)
	}
	return r
}

// pathRule builds a non-resource rule.
func pathRule(verbs, paths string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: strings.Fields(verbs), NonResourceURLs: strings.Fields(paths)}
}

const (
	readVerbs  = "get list watch"
	writeVerbs = "create delete deletecollection patch update"
	allVerbs   = readVerbs + " " + writeVerbs
)

// Resources the namespaced user roles cover, by how they are used.
var (
	// Readable by view: everything an application owner looks at, but secrets.
	viewRules = []rbacv1.PolicyRule{
		rule(readVerbs, "core", "pods pods/log pods/status configmaps endpoints events persistentvolumeclaims persistentvolumeclaims/status "+
			"replicationcontrollers replicationcontrollers/scale replicationcontrollers/status serviceaccounts services services/status "+
			"bindings limitranges resourcequotas resourcequotas/status namespaces namespaces/status"),
		rule(readVerbs, "apps", "controllerrevisions daemonsets daemonsets/status deployments deployments/scale deployments/status "+
			"replicasets replicasets/scale replicasets/status statefulsets statefulsets/scale statefulsets/status"),
		rule(readVerbs, "autoscaling", "horizontalpodautoscalers horizontalpodautoscalers/status"),
		rule(readVerbs, "batch", "cronjobs cronjobs/status jobs jobs/status"),
		rule(readVerbs, "policy", "poddisruptionbudgets poddisruptionbudgets/status"),
		rule(readVerbs, "networking.k8s.io", "ingresses ingresses/status networkpolicies"),
		rule(readVerbs, "discovery.k8s.io", "endpointslices"),
		rule(readVerbs, "events.k8s.io", "events"),
	}
	// Writable by edit: workloads and what they consume, plus reaching into pods.
	// Not pods/ephemeralcontainers: adding a debug container to a running pod is
	// granted separately, as in Kubernetes, because it sidesteps the checks made
	// when pods are created.
	editRules = []rbacv1.PolicyRule{
		rule(readVerbs, "core", "secrets"),
		rule(allVerbs, "core", "pods pods/attach pods/exec pods/portforward pods/proxy"),
		rule("create", "core", "pods/eviction serviceaccounts/token"),
		rule(writeVerbs, "core", "configmaps endpoints persistentvolumeclaims replicationcontrollers replicationcontrollers/scale "+
			"secrets serviceaccounts services services/proxy"),
		rule("get", "core", "services/proxy"),
		rule("impersonate", "core", "serviceaccounts"),
		rule(writeVerbs, "apps", "daemonsets deployments deployments/rollback deployments/scale replicasets replicasets/scale statefulsets statefulsets/scale"),
		rule(writeVerbs, "autoscaling", "horizontalpodautoscalers"),
		rule(writeVerbs, "batch", "cronjobs jobs"),
		rule(writeVerbs, "policy", "poddisruptionbudgets"),
		rule(writeVerbs, "networking.k8s.io", "ingresses networkpolicies"),
		rule(writeVerbs, "discovery.k8s.io", "endpointslices"),
	}
	// Added by admin: managing who may do what inside the namespace.
	adminRules = []rbacv1.PolicyRule{
		rule(allVerbs, "rbac.authorization.k8s.io", "roles rolebindings"),
		rule("create", "authorization.k8s.io", "localsubjectaccessreviews"),
	}
)

func concat(lists ...[]rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Paths anyone may read to find out what the server is and serves.
const (
	publicInfoPaths = "/healthz /livez /readyz /version /version/"
	discoveryPaths  = "/api /api/* /apis /apis/* /openapi /openapi/* " + publicInfoPaths
)

func clusterRole(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
		ObjectMeta: bootstrapMeta(name),
		Rules:      rules,
	}
}

func bootstrapMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:        name,
		Annotations: map[string]string{AutoupdateAnnotation: "true"},
		Labels:      map[string]string{BootstrappingLabel: BootstrappingValue},
	}
}

// clusterBinding binds a ClusterRole of the same name to subjects.
func clusterBinding(role string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
		ObjectMeta: bootstrapMeta(role),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}
}

func groupSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

func userSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

// BootstrapClusterRoles are the default ClusterRoles.
func BootstrapClusterRoles() []*rbacv1.ClusterRole {
	return []*rbacv1.ClusterRole{
		clusterRole("cluster-admin",
			rule("*", "*", "*"),
			pathRule("*", "*")),
		clusterRole("admin", concat(viewRules, editRules, adminRules)...),
		clusterRole("edit", concat(viewRules, editRules)...),
		clusterRole("view", viewRules...),
		clusterRole("system:basic-user",
			rule("create", "authorization.k8s.io", "selfsubjectaccessreviews selfsubjectrulesreviews"),
			rule("create", "authentication.k8s.io", "selfsubjectreviews")),
		clusterRole("system:discovery", pathRule("get", discoveryPaths)),
		clusterRole("system:public-info-viewer", pathRule("get", publicInfoPaths)),
		clusterRole("system:monitoring", pathRule("get", "/metrics /metrics/* /livez /livez/* /readyz /readyz/* /healthz /healthz/*")),
		clusterRole("system:auth-delegator",
			rule("create", "authentication.k8s.io", "tokenreviews"),
			rule("create", "authorization.k8s.io", "subjectaccessreviews")),
		clusterRole("system:node",
			rule(readVerbs, "core", "pods services endpoints nodes"),
			// The node authorizer decides these for nodes, object by object (what
			// the node's pods use); RBAC lists only what it can ever allow.
			rule("get", "core", "configmaps secrets persistentvolumeclaims persistentvolumes serviceaccounts"),
			rule("create", "core", "serviceaccounts/token"),
			rule("create delete", "core", "pods"),
			rule("patch update", "core", "pods/status persistentvolumeclaims/status"),
			rule("create", "core", "pods/eviction"),
			rule("create patch update", "core", "nodes nodes/status"),
			rule("create patch update", "core events.k8s.io", "events"),
			rule("get list watch create update patch delete", "coordination.k8s.io", "leases"),
			rule("create get list watch", "certificates.k8s.io", "certificatesigningrequests"),
			rule(readVerbs, "storage.k8s.io", "csidrivers csinodes storageclasses volumeattachments"),
			rule("create update patch delete", "storage.k8s.io", "csinodes"),
			rule(readVerbs, "node.k8s.io", "runtimeclasses"),
			rule(readVerbs, "discovery.k8s.io", "endpointslices"),
			rule("create", "authentication.k8s.io", "tokenreviews"),
			rule("create", "authorization.k8s.io", "subjectaccessreviews")),
		clusterRole("system:node-bootstrapper",
			rule("create get list watch", "certificates.k8s.io", "certificatesigningrequests")),
		clusterRole("system:certificates.k8s.io:certificatesigningrequests:nodeclient",
			rule("create", "certificates.k8s.io", "certificatesigningrequests/nodeclient")),
		clusterRole("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
			rule("create", "certificates.k8s.io", "certificatesigningrequests/selfnodeclient")),
		clusterRole("system:kube-scheduler",
			rule("create patch update", "core events.k8s.io", "events"),
			rule("get list watch create update patch", "coordination.k8s.io", "leases"),
			rule("create", "core", "bindings pods/binding"),
			rule(readVerbs+" delete", "core", "pods"),
			rule("patch update", "core", "pods/status"),
			rule(readVerbs, "core", "nodes namespaces services replicationcontrollers persistentvolumes persistentvolumeclaims"),
			rule("patch update", "core", "persistentvolumes persistentvolumeclaims"),
			rule(readVerbs, "apps", "replicasets statefulsets"),
			rule(readVerbs, "policy", "poddisruptionbudgets"),
			rule(readVerbs, "storage.k8s.io", "storageclasses csinodes csidrivers csistoragecapacities"),
			rule("create", "authentication.k8s.io", "tokenreviews"),
			rule("create", "authorization.k8s.io", "subjectaccessreviews")),
		clusterRole("system:kube-controller-manager",
			rule(readVerbs, "*", "*"),
			// The garbage collector and the namespace controller delete, and edit the
			// ownerReferences and finalizers of, objects of any resource.
			rule("delete deletecollection patch update", "*", "*"),
			rule(writeVerbs, "core", "pods pods/status pods/binding pods/eviction services services/status endpoints events "+
				"replicationcontrollers replicationcontrollers/status replicationcontrollers/scale serviceaccounts secrets configmaps "+
				"namespaces namespaces/status namespaces/finalize nodes nodes/status persistentvolumes persistentvolumes/status "+
				"persistentvolumeclaims persistentvolumeclaims/status resourcequotas resourcequotas/status limitranges"),
			rule("create", "core", "serviceaccounts/token"),
			rule(writeVerbs, "apps", "deployments deployments/status deployments/scale replicasets replicasets/status replicasets/scale "+
				"statefulsets statefulsets/status statefulsets/scale daemonsets daemonsets/status controllerrevisions"),
			rule(writeVerbs, "batch", "jobs jobs/status cronjobs cronjobs/status"),
			rule(writeVerbs, "autoscaling", "horizontalpodautoscalers horizontalpodautoscalers/status"),
			rule(writeVerbs, "policy", "poddisruptionbudgets poddisruptionbudgets/status"),
			rule(writeVerbs, "discovery.k8s.io", "endpointslices"),
			rule(writeVerbs, "events.k8s.io", "events"),
			rule(writeVerbs, "coordination.k8s.io", "leases"),
			rule(writeVerbs, "networking.k8s.io", "ingresses/status"),
			rule(writeVerbs, "storage.k8s.io", "volumeattachments volumeattachments/status"),
			rule(writeVerbs, "certificates.k8s.io", "certificatesigningrequests certificatesigningrequests/approval certificatesigningrequests/status"),
			rule("approve sign", "certificates.k8s.io", "signers"),
			rule("escalate patch update", "rbac.authorization.k8s.io", "clusterroles"),
			rule("create", "authentication.k8s.io", "tokenreviews"),
			rule("create", "authorization.k8s.io", "subjectaccessreviews")),
		clusterRole("system:node-proxier",
			rule(readVerbs, "core", "services endpoints nodes"),
			rule(readVerbs, "discovery.k8s.io", "endpointslices"),
			rule("create patch update", "core events.k8s.io", "events")),
		clusterRole("system:kube-dns",
			rule("list watch", "core", "services endpoints namespaces pods"),
			rule("list watch", "discovery.k8s.io", "endpointslices")),
	}
}

// BootstrapClusterRoleBindings bind the default ClusterRoles to the users and
// groups of the built-in components.
func BootstrapClusterRoleBindings() []*rbacv1.ClusterRoleBinding {
	return []*rbacv1.ClusterRoleBinding{
		clusterBinding("cluster-admin", groupSubject(GroupMasters)),
		clusterBinding("system:basic-user", groupSubject(GroupAuthenticated)),
		clusterBinding("system:discovery", groupSubject(GroupAuthenticated)),
		clusterBinding("system:public-info-viewer", groupSubject(GroupAuthenticated), groupSubject(GroupUnauthenticated)),
		clusterBinding("system:monitoring", groupSubject("system:monitoring")),
		clusterBinding("system:node", groupSubject(GroupNodes)),
		clusterBinding("system:node-bootstrapper", groupSubject(GroupBootstrappers)),
		clusterBinding("system:certificates.k8s.io:certificatesigningrequests:nodeclient", groupSubject(GroupBootstrappers)),
		clusterBinding("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", groupSubject(GroupNodes)),
		clusterBinding("system:kube-scheduler", userSubject(UserScheduler)),
		clusterBinding("system:kube-controller-manager", userSubject(UserControllers)),
		clusterBinding("system:node-proxier", userSubject(UserKubeProxy)),
		clusterBinding("system:kube-dns", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: DNSServiceAccountNamespace, Name: DNSServiceAccountName}),
	}
}

// BootstrapPolicy is every default RBAC object, ClusterRoles first.
func BootstrapPolicy() []runtime.Object {
	var out []runtime.Object
	for _, r := range BootstrapClusterRoles() {
		out = append(out, r)
	}
	for _, b := range BootstrapClusterRoleBindings() {
		out = append(out, b)
	}
	return out
}

package registry

import (
	"strings"
	"testing"
)

// The columns a real server sends for each core kind (see the reference of table
// columns); '*' marks the wide ones.
func TestCoreColumnsNamesAndScope(t *testing.T) {
	cases := []struct {
		resource   string
		columns    string
		short      string
		categories string
		namespaced bool
	}{
		{"pods", "Name,Ready,Status,Restarts,Age,IP*,Node*,Nominated Node*,Readiness Gates*", "po", "all", true},
		{"nodes", "Name,Status,Roles,Age,Version,Internal-IP*,External-IP*,OS-Image*,Kernel-Version*,Container-Runtime*", "no", "", false},
		{"services", "Name,Type,Cluster-IP,External-IP,Port(s),Age,Selector*", "svc", "all", true},
		{"events", "Last Seen,Type,Reason,Object,Subobject*,Source*,Message,First Seen*,Count*,Name*", "ev", "", true},
		{"secrets", "Name,Type,Data,Age", "", "", true},
		{"serviceaccounts", "Name,Secrets,Age", "sa", "", true},
		{"endpoints", "Name,Endpoints,Age", "ep", "", true},
		{"persistentvolumeclaims", "Name,Status,Volume,Capacity,Access Modes,StorageClass,VolumeAttributesClass,Age,VolumeMode*", "pvc", "", true},
		{"persistentvolumes", "Name,Capacity,Access Modes,Reclaim Policy,Status,Claim,StorageClass,VolumeAttributesClass,Reason,Age,VolumeMode*", "pv", "", false},
		{"resourcequotas", "Name,Age,Request,Limit", "quota", "", true},
		{"limitranges", "", "limits", "", true},
		{"replicationcontrollers", "Name,Desired,Current,Ready,Age,Containers*,Images*,Selector*", "rc", "all", true},
		{"podtemplates", "Name,Containers,Images,Pod Labels", "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.resource, func(t *testing.T) {
			r := mustResource(t, "", "v1", tc.resource)
			if got := columnNames(r); got != tc.columns {
				t.Errorf("columns %q, want %q", got, tc.columns)
			}
			if got := strings.Join(r.ShortNames, ","); got != tc.short {
				t.Errorf("short names %q, want %q", got, tc.short)
			}
			if got := strings.Join(r.Categories, ","); got != tc.categories {
				t.Errorf("categories %q, want %q", got, tc.categories)
			}
			if r.Namespaced != tc.namespaced {
				t.Errorf("namespaced %v, want %v", r.Namespaced, tc.namespaced)
			}
			if len(r.Columns) > 0 && r.Columns[0].Name == "Name" && r.Columns[0].Format != "name" {
				t.Errorf("Name column has format %q", r.Columns[0].Format)
			}
		})
	}
	if mustResource(t, "", "v1", "services").HasVerb("deletecollection") {
		t.Error("services allow deletecollection")
	}
}

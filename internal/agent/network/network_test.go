package network

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
)

func TestConflist(t *testing.T) {
	p := PodNetwork{PodCIDR: netip.MustParsePrefix("10.244.3.0/24"), ConfDir: "/x", IPAMDir: "/data/ipam"}
	b, err := p.Conflist()
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Plugins []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	br := c.Plugins[0]
	if br["type"] != "bridge" || br["isGateway"] != true || br["ipMasq"] != false {
		t.Errorf("bridge plugin %v (no masquerade without egress)", br)
	}
	ipam := br["ipam"].(map[string]any)
	if ipam["type"] != "host-local" || ipam["dataDir"] != "/data/ipam" || !strings.Contains(string(b), `"subnet": "10.244.3.0/24"`) || !strings.Contains(string(b), `"gateway": "10.244.3.1"`) {
		t.Errorf("ipam %v", ipam)
	}
	if c.Plugins[1]["type"] != "portmap" {
		t.Errorf("portmap missing: %v", c.Plugins[1])
	}
}

func TestBridgeAndNodeIP(t *testing.T) {
	b, err := ParseBridge("", "")
	if err != nil || b.Name != DefaultBridge || b.HostIP().String() != "10.200.0.1" {
		t.Fatalf("default bridge %+v %v", b, err)
	}
	if _, err := ParseBridge("a-name-that-is-too-long", ""); err == nil {
		t.Error("long bridge name accepted")
	}
	if _, err := ParseBridge("x", "10.0.0.1"); err == nil {
		t.Error("address without a prefix length accepted")
	}
	seen := map[netip.Addr]bool{}
	for _, ns := range []string{"a", "b", "c", "tug-node-1"} {
		ip := b.NodeIPFor(ns)
		if !b.Addr.Masked().Contains(ip) || ip == b.Addr.Addr() || ip == b.Addr.Masked().Addr() {
			t.Errorf("%s: %s is not a usable node address on %s", ns, ip, b.Addr)
		}
		if again := b.NodeIPFor(ns); again != ip {
			t.Errorf("%s: address not stable (%s, %s)", ns, ip, again)
		}
		seen[ip] = true
	}
	if len(seen) < 3 {
		t.Errorf("addresses collide: %v", seen)
	}
	if v := HostVeth("some-long-namespace-name"); len(v) > 15 || !strings.HasPrefix(v, "tugv") {
		t.Errorf("host veth name %q", v)
	}
}

func TestNodeRulesNeedANamespace(t *testing.T) {
	if err := NodeRules(nil, netip.MustParsePrefix("10.244.0.0/24"), netip.MustParsePrefix("10.200.0.1/24"), false); err == nil {
		t.Fatal("NAT rules in the host's namespace must be refused")
	}
}

package reconcile

import (
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

func TestDigestDump(t *testing.T) {
	str := func(s string) *string { return &s }
	i64 := func(n int64) *int64 { return &n }
	base := func() []agentapi.Peer {
		return []agentapi.Peer{
			{PublicKey: "AAAA", AllowedIPs: []string{"10.0.0.1/32", "fd00::1/128"}, PersistentKeepalive: 25},
			{PublicKey: "BBBB", AllowedIPs: []string{"10.0.0.2/32"}, PresharedKey: str("PSK1")},
			{PublicKey: "CCCC", AllowedIPs: []string{}},
		}
	}
	want := digestDump(base())

	same := []struct {
		name string
		edit func([]agentapi.Peer) []agentapi.Peer
	}{
		{"peers in another order", func(ps []agentapi.Peer) []agentapi.Peer { return []agentapi.Peer{ps[2], ps[0], ps[1]} }},
		{"allowed IPs in another order", func(ps []agentapi.Peer) []agentapi.Peer {
			ps[0].AllowedIPs = []string{"fd00::1/128", "10.0.0.1/32"}
			return ps
		}},
		{"counters, handshake and endpoint", func(ps []agentapi.Peer) []agentapi.Peer {
			ps[0].TransferRx, ps[0].TransferTx, ps[0].LatestHandshake = 1234, 5678, i64(1700000000)
			ps[1].Endpoint = str("192.0.2.1:51820")
			return ps
		}},
	}
	for _, tt := range same {
		if got := digestDump(tt.edit(base())); got != want {
			t.Errorf("%s: digest changed", tt.name)
		}
	}

	differ := []struct {
		name string
		edit func([]agentapi.Peer) []agentapi.Peer
	}{
		{"a peer added", func(ps []agentapi.Peer) []agentapi.Peer {
			return append(ps, agentapi.Peer{PublicKey: "DDDD", AllowedIPs: []string{"10.0.0.4/32"}})
		}},
		{"a peer removed", func(ps []agentapi.Peer) []agentapi.Peer { return ps[:2] }},
		{"a peer twice", func(ps []agentapi.Peer) []agentapi.Peer { return append(ps, ps[2]) }},
		{"another key", func(ps []agentapi.Peer) []agentapi.Peer { ps[2].PublicKey = "CCCD"; return ps }},
		{"an allowed IP changed", func(ps []agentapi.Peer) []agentapi.Peer { ps[1].AllowedIPs = []string{"10.0.0.3/32"}; return ps }},
		{"an allowed IP added", func(ps []agentapi.Peer) []agentapi.Peer {
			ps[2].AllowedIPs = []string{"10.0.0.3/32"}
			return ps
		}},
		{"an allowed IP moved to another peer", func(ps []agentapi.Peer) []agentapi.Peer {
			ps[0].AllowedIPs = []string{"10.0.0.1/32"}
			ps[2].AllowedIPs = []string{"fd00::1/128"}
			return ps
		}},
		{"the same address in other words", func(ps []agentapi.Peer) []agentapi.Peer { ps[1].AllowedIPs = []string{"10.0.0.2"}; return ps }},
		{"keepalive", func(ps []agentapi.Peer) []agentapi.Peer { ps[0].PersistentKeepalive = 0; return ps }},
		{"preshared key changed", func(ps []agentapi.Peer) []agentapi.Peer { ps[1].PresharedKey = str("PSK2"); return ps }},
		{"preshared key removed", func(ps []agentapi.Peer) []agentapi.Peer { ps[1].PresharedKey = nil; return ps }},
		{"preshared key shown empty", func(ps []agentapi.Peer) []agentapi.Peer { ps[2].PresharedKey = str(""); return ps }},
		{"fields moved between strings", func(ps []agentapi.Peer) []agentapi.Peer {
			ps[2].PublicKey, ps[2].AllowedIPs = "CC", []string{"CC"}
			return ps
		}},
	}
	for _, tt := range differ {
		if got := digestDump(tt.edit(base())); got == want {
			t.Errorf("%s: same digest", tt.name)
		}
	}
	if digestDump(nil) != digestDump([]agentapi.Peer{}) {
		t.Error("nil and empty dumps differ")
	}
	if digestDump(nil) == digestDump([]agentapi.Peer{{}}) {
		t.Error("an empty dump and one empty peer have the same digest")
	}
}

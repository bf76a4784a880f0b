package poller

import (
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

func TestPrintStats(t *testing.T) {
	i64 := func(n int64) *int64 { return &n }
	base := func() []agentapi.Peer {
		return []agentapi.Peer{
			{PublicKey: "AAAA", TransferRx: 10, TransferTx: 20, LatestHandshake: i64(1700000000), AllowedIPs: []string{"10.0.0.1/32"}},
			{PublicKey: "BBBB"},
		}
	}
	want := printStats(base())
	same := map[string]func([]agentapi.Peer) []agentapi.Peer{
		"peers in another order": func(ps []agentapi.Peer) []agentapi.Peer { return []agentapi.Peer{ps[1], ps[0]} },
		"configuration": func(ps []agentapi.Peer) []agentapi.Peer {
			ps[0].AllowedIPs, ps[0].PersistentKeepalive = nil, 25
			return ps
		},
	}
	for name, edit := range same {
		if printStats(edit(base())) != want {
			t.Errorf("%s: print changed", name)
		}
	}
	differ := map[string]func([]agentapi.Peer) []agentapi.Peer{
		"received":         func(ps []agentapi.Peer) []agentapi.Peer { ps[0].TransferRx++; return ps },
		"sent":             func(ps []agentapi.Peer) []agentapi.Peer { ps[1].TransferTx = 1; return ps },
		"counters swapped": func(ps []agentapi.Peer) []agentapi.Peer { ps[0].TransferRx, ps[0].TransferTx = 20, 10; return ps },
		"handshake":        func(ps []agentapi.Peer) []agentapi.Peer { ps[0].LatestHandshake = i64(1700000001); return ps },
		"first handshake":  func(ps []agentapi.Peer) []agentapi.Peer { ps[1].LatestHandshake = i64(0); return ps },
		"a peer gone":      func(ps []agentapi.Peer) []agentapi.Peer { return ps[:1] },
		"a peer more":      func(ps []agentapi.Peer) []agentapi.Peer { return append(ps, agentapi.Peer{PublicKey: "CCCC"}) },
		"another key":      func(ps []agentapi.Peer) []agentapi.Peer { ps[1].PublicKey = "BBBC"; return ps },
	}
	for name, edit := range differ {
		if printStats(edit(base())) == want {
			t.Errorf("%s: same print", name)
		}
	}
}

package agent

import (
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// TestTrafficTotalsNeverGoDown: the summed byte counters of an interface
// keep what removed peers had, and what a peer had before it was removed
// and added again (its own counters then start over).
func TestTrafficTotalsNeverGoDown(t *testing.T) {
	k1, _ := wgtypes.GenerateKey()
	k2, _ := wgtypes.GenerateKey()
	peer := func(k wgtypes.Key, rx, tx int64) wgtypes.Peer {
		return wgtypes.Peer{PublicKey: k, ReceiveBytes: rx, TransmitBytes: tx}
	}
	steps := []struct {
		name   string
		peers  []wgtypes.Peer
		rx, tx int64
	}{
		{"empty", nil, 0, 0},
		{"two peers", []wgtypes.Peer{peer(k1, 100, 10), peer(k2, 50, 5)}, 150, 15},
		{"traffic", []wgtypes.Peer{peer(k1, 300, 30), peer(k2, 50, 5)}, 350, 35},
		{"k2 removed", []wgtypes.Peer{peer(k1, 300, 30)}, 350, 35},
		{"k1 re-added, counters start over", []wgtypes.Peer{peer(k1, 20, 2)}, 370, 37},
		{"k2 back", []wgtypes.Peer{peer(k1, 20, 2), peer(k2, 1, 1)}, 371, 38},
		{"all removed", nil, 371, 38},
	}
	tt := &trafficTotals{last: map[wgtypes.Key][2]int64{}}
	for _, s := range steps {
		rx, tx := tt.add(s.peers)
		if rx != s.rx || tx != s.tx {
			t.Fatalf("%s: rx %d tx %d, want %d %d", s.name, rx, tx, s.rx, s.tx)
		}
	}
}

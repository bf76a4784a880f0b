package agent

import (
	"errors"
	"github.com/wgfleet/wgfleet/wgrules"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// FuzzParseSetConf: a syncconf config is untrusted input. parseSetConf
// never panics, every refusal is a bad request, and what it accepts is a
// peer set the agent may hold (keys usable, no overlap unless refused
// later by the commit, keepalive in range).
func FuzzParseSetConf(f *testing.F) {
	own, _ := wgtypes.GeneratePrivateKey()
	p1, _ := wgtypes.GeneratePrivateKey()
	f.Add([]byte("[Interface]\nListenPort = 51820\n\n[Peer]\nPublicKey = " + p1.PublicKey().String() + "\nAllowedIPs = 10.0.0.2/32, fd00::2/128\nPersistentKeepalive = 25\n"))
	f.Add([]byte("[Interface]\nPrivateKey = " + own.String() + "\n"))
	f.Add([]byte("[Peer]\nPublicKey = " + p1.PublicKey().String() + "\nPresharedKey = " + own.String() + "\nEndpoint = 1.2.3.4:5\n"))
	f.Add([]byte("[Interface]\nPostUp = rm -rf /\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := parseSetConf(data, own.PublicKey(), 51820)
		if err != nil {
			if !errors.Is(err, errBadRequest) {
				t.Fatalf("refusal %v is not a bad request", err)
			}
			return
		}
		for k, spec := range set {
			if k != spec.Key || k == own.PublicKey() || k == (wgtypes.Key{}) {
				t.Fatalf("accepted peer key %s", k)
			}
			if spec.Keepalive < 0 || spec.Keepalive > wgrules.MaxKeepalive {
				t.Fatalf("keepalive %d", spec.Keepalive)
			}
			for _, p := range spec.AllowedIPs {
				if p.Masked() != p {
					t.Fatalf("allowed IP %s has host bits", p)
				}
			}
		}
	})
}

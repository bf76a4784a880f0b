package agent

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/tunnel/egress"
)

// writeLegacyState writes set as the state file of the format before the
// journal, as that agent did.
func writeLegacyState(t *testing.T, dir, iface string, set peerSet) string {
	t.Helper()
	data, err := encodeState(iface, set)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, iface+legacySuffix)
	if err := writeFileAtomic(p, data); err != nil {
		t.Fatal(err)
	}
	return p
}

// encodeState is the legacy state file of set, as the agent before the
// journal wrote it.
func encodeState(iface string, set peerSet) ([]byte, error) {
	doc := stateDoc{Version: stateVersion, Interface: iface, Peers: make([]agentapi.PeerSpec, 0, len(set))}
	for _, k := range sortedKeys(set) {
		s := set[k]
		p := agentapi.PeerSpec{PublicKey: k.String(), AllowedIPs: prefixStrings(s.AllowedIPs), PersistentKeepalive: s.Keepalive}
		if s.PSK != nil {
			psk := s.PSK.String()
			p.PresharedKey = &psk
		}
		doc.Peers = append(doc.Peers, p)
	}
	return json.MarshalIndent(doc, "", "  ")
}

// TestLegacyStateMigrates: the state file of the agent before the journal
// is read on the first start, becomes the snapshot (0600), and is removed;
// the next start reads the snapshot.
func TestLegacyStateMigrates(t *testing.T) {
	dir := t.TempDir()
	psk := testKey(t, 9)
	set := peerSet{
		testKey(t, 1): {Key: testKey(t, 1), AllowedIPs: prefixes(t, "10.0.0.2/32", "fd00::2/128"), PSK: &psk, Keepalive: 25},
		testKey(t, 2): {Key: testKey(t, 2), AllowedIPs: prefixes(t)},
	}
	legacy := writeLegacyState(t, dir, "wg0", set)
	for round := range 2 {
		got := loadState(t, dir, "wg0")
		samePeers(t, got, set)
		if _, err := os.Stat(legacy); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("round %d: the legacy state file is still there: %v", round, err)
		}
		for _, suffix := range []string{snapshotSuffix, journalSuffix} {
			st, err := os.Stat(filepath.Join(dir, "wg0"+suffix))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", suffix, st.Mode().Perm())
			}
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 2 {
			t.Errorf("round %d: files left behind: %v", round, entries)
		}
	}
}

func TestLegacyStateMissingIsEmpty(t *testing.T) {
	got, err := loadLegacyState(filepath.Join(t.TempDir(), "none.json"), "wg0")
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v; want empty set, nil", got, err)
	}
}

// TestLegacyStateCorrupt: a legacy state file that does not read back in
// full stops the start with ErrCorruptState naming it, and is left as it
// was; no snapshot or journal is made.
func TestLegacyStateCorrupt(t *testing.T) {
	good := `{"version":1,"interface":"wg0","peers":[{"public_key":"` + testKey(t, 1).String() + `","allowed_ips":["10.0.0.2/32"]}]}`
	tests := map[string]string{
		"truncated":      good[:len(good)/2],
		"not json":       "hello",
		"wrong version":  strings.Replace(good, `"version":1`, `"version":7`, 1),
		"other iface":    strings.Replace(good, `"wg0"`, `"wg9"`, 1),
		"bad cidr":       strings.Replace(good, "10.0.0.2/32", "10.0.0.2/99", 1),
		"bad key":        strings.Replace(good, testKey(t, 1).String(), "abc=", 1),
		"unknown field":  strings.Replace(good, `"version":1`, `"version":1,"x":2`, 1),
		"trailing data":  good + "{}",
		"empty file":     "",
		"duplicate peer": strings.Replace(good, `}]}`, `},{"public_key":"`+testKey(t, 1).String()+`","allowed_ips":[]}]}`, 1),
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "wg0"+legacySuffix)
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := openPeerStore(dir, "wg0", discardLog())
			if !errors.Is(err, ErrCorruptState) {
				t.Fatalf("want ErrCorruptState, got %v", err)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error does not name the file: %v", err)
			}
			if data, _ := os.ReadFile(p); string(data) != content {
				t.Errorf("the legacy file was changed")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("files made beside a corrupt legacy file: %v", entries)
			}
		})
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "wg0.key")
	k1, err := loadOrCreateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode().Perm())
	}
	k2, err := loadOrCreateKey(p)
	if err != nil || k1 != k2 {
		t.Fatalf("second load: %v, same key %v", err, k1 == k2)
	}
	if k1 == (wgtypes.Key{}) {
		t.Fatal("zero key")
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOrCreateKey(p); err == nil {
		t.Fatal("a world-readable key file was accepted")
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"interface":"wg0","peers":[{"public_key":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","allowed_ips":["10.0.0.2/32"]}]}`))
	f.Add([]byte(`{"version":1,"interface":"wg0","peers":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := decodeState(data, "wg0")
		if err != nil {
			return
		}
		// Whatever decodes must survive a round trip unchanged.
		enc, err := encodeState("wg0", set)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeState(enc, "wg0")
		if err != nil || len(again) != len(set) {
			t.Fatalf("round trip: %v, %d vs %d", err, len(again), len(set))
		}
	})
}

func FuzzParseConfigFile(f *testing.F) {
	f.Add([]byte(`{"listen":":8080","interfaces":[{"name":"wg0","addresses":["10.8.0.1/24"],"listen_port":51820}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fc, err := ParseConfigFile(data)
		if err != nil {
			return
		}
		for _, ic := range fc.Interfaces {
			for _, p := range ic.Addresses {
				if !p.IsValid() {
					t.Fatalf("accepted file with an invalid address %v", p)
				}
			}
			for _, r := range append(ic.EgressAllow, ic.EgressDeny...) {
				if again, err := egress.ParseRule(r.String()); err != nil || again != r {
					t.Fatalf("egress rule %v does not read back: %v, %v", r, again, err)
				}
			}
			if ic.TCPIdleTimeout < 0 || ic.UDPIdleTimeout < 0 {
				t.Fatalf("accepted a negative idle timeout: %+v", ic)
			}
		}
	})
}

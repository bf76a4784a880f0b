package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/tunnel/egress"
)

func TestStateFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	f := stateFile{path: filepath.Join(dir, "wg0.peers.json")}
	psk := testKey(t, 9)
	set := peerSet{
		testKey(t, 1): {Key: testKey(t, 1), AllowedIPs: prefixes(t, "10.0.0.2/32", "fd00::2/128"), PSK: &psk, Keepalive: 25},
		testKey(t, 2): {Key: testKey(t, 2), AllowedIPs: prefixes(t)},
	}
	if err := f.save("wg0", set); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(f.path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v, want 0600", st.Mode().Perm())
	}
	got, err := f.load("wg0")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(set) {
		t.Fatalf("loaded %d peers, want %d", len(got), len(set))
	}
	for k, want := range set {
		if !got[k].equal(want) {
			t.Errorf("peer %s: got %+v, want %+v", k, got[k], want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func TestStateFileMissingIsEmpty(t *testing.T) {
	got, err := stateFile{path: filepath.Join(t.TempDir(), "none.json")}.load("wg0")
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v; want empty set, nil", got, err)
	}
}

func TestStateFileCorrupt(t *testing.T) {
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
			p := filepath.Join(t.TempDir(), "wg0.peers.json")
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := stateFile{path: p}.load("wg0")
			if !errors.Is(err, ErrCorruptState) {
				t.Fatalf("want ErrCorruptState, got %v", err)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error does not name the file: %v", err)
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

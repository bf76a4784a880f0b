package tunnel

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// knownRead is what a reader that skips known peers sees of a reply: the
// peers of each part in order, those it knew taken from what it was
// given before (by their Text), and the error.
func knownRead(t *testing.T, text string, n int, before map[string]wgtypes.Peer) ([][]wgtypes.Peer, int, error) {
	var mu sync.Mutex
	got := make([][]wgtypes.Peer, n)
	skipped := 0
	err := scanDeviceTextParts(text, n, 1, func(part int, key wgtypes.Key, text string) int {
		if !strings.HasPrefix(text, "public_key=") {
			t.Errorf("known asked about %.80q", text)
		}
		var p wgtypes.Peer
		known := 0
		for t, q := range before { // the longest, as a reader keeps one Text a key
			if q.PublicKey == key && len(t) > known && strings.HasPrefix(text, t) {
				p, known = q, len(t)
			}
		}
		if known == 0 || !PeerEndsAt(text, known) {
			return known
		}
		mu.Lock()
		defer mu.Unlock()
		got[part] = append(got[part], p)
		skipped++
		return known
	}, func(part int, v *PeerView) error {
		p := v.Peer()
		mu.Lock()
		defer mu.Unlock()
		got[part] = append(got[part], p)
		return nil
	})
	return got, skipped, err
}

// textsOf parses text in n parts and returns each peer given to the
// function by its Text, checking that a Text alone parses to that peer.
func textsOf(t *testing.T, text string, n int) map[string]wgtypes.Peer {
	var mu sync.Mutex
	out := map[string]wgtypes.Peer{}
	_ = scanDeviceTextParts(text, n, 1, nil, func(_ int, v *PeerView) error {
		p := v.Peer()
		if !strings.HasPrefix(v.Text, "public_key=") || !strings.Contains(text, v.Text) {
			t.Errorf("Text %q is not a peer's lines of the reply", v.Text)
		}
		var alone []wgtypes.Peer
		var st DeviceState
		if err := scanDeviceText(v.Text, &st, func(w *PeerView) error {
			if w.Text != v.Text {
				t.Errorf("alone, Text %q is %q", v.Text, w.Text)
			}
			alone = append(alone, w.Peer())
			return nil
		}); err != nil || len(alone) != 1 || !reflect.DeepEqual(alone[0], p) {
			t.Errorf("Text %q alone parses to %+v, %v; want %+v", v.Text, alone, err, p)
		}
		mu.Lock()
		defer mu.Unlock()
		out[v.Text] = p
		return nil
	})
	return out
}

// TestKnownPeers: a reader that knows some peers' lines from an earlier
// reply is given the others, and reads the same peers and the same errors
// as a reader that parses everything.
func TestKnownPeers(t *testing.T) {
	var first strings.Builder
	first.WriteString("private_key=" + hexOf(testKey(200)) + "\nlisten_port=51820\n")
	for i := range byte(40) {
		first.WriteString(peerBlock(i, "allowed_ip=10.0.0."+string('0'+i%10)+"/32\n"))
	}
	before := textsOf(t, first.String(), 3)
	if len(before) != 40 {
		t.Fatalf("the first reply gave %d peers' texts, want 40", len(before))
	}
	moved := strings.Replace(first.String(), "tx_bytes=0", "tx_bytes=7", 5)
	tests := []struct {
		name, text  string
		wantSkipped int
		wantErr     string
	}{
		{"same", first.String(), 40, ""},
		{"five counters moved", moved, 35, ""},
		{"a peer more", first.String() + peerBlock(99, ""), 40, ""},
		{"a line more on a known peer's", first.String() + "allowed_ip=10.9.9.9/32\n", 39, ""},
		{"errno after the peers", first.String() + "errno=0\n\n", 40, ""},
		{"a bad line after a known peer", first.String() + "bogus=1\n", 39, "unknown peer key"},
		{"a known peer repeated", first.String() + peerBlock(3, "allowed_ip=10.0.0.3/32\n"), -1, "duplicate peer"},
		{"a known peer after errno", peerBlock(50, "") + "errno=0\n" + peerBlock(1, "allowed_ip=10.0.0.1/32\n"), -1, "data after errno"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []wgtypes.Peer
			var st DeviceState
			werr := scanDeviceText(tt.text, &st, func(v *PeerView) error { want = append(want, v.Peer()); return nil })
			for _, n := range []int{1, 2, 3, 5} {
				got, skipped, err := knownRead(t, tt.text, n, before)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(werr.Error(), tt.wantErr) {
						t.Fatalf("%d parts: %v; in one piece %v; want %q", n, err, werr, tt.wantErr)
					}
					continue
				}
				if err != nil || werr != nil {
					t.Fatalf("%d parts: %v; in one piece %v", n, err, werr)
				}
				if all := slices.Concat(got...); !reflect.DeepEqual(all, want) {
					t.Fatalf("%d parts: the peers differ from one piece's", n)
				}
				if skipped != tt.wantSkipped {
					t.Fatalf("%d parts: %d peers known, want %d", n, skipped, tt.wantSkipped)
				}
			}
		})
	}
}

// FuzzKnownPeers holds a reader that skips the peers it knows to one that
// parses everything: after an earlier reply first, a reply made of a
// piece of first between any prefix and suffix gives the same peers in
// the same order (those skipped as they were in first), and an error for
// the same replies, with the same text unless a peer is repeated. And a
// peer's Text alone parses to that peer.
func FuzzKnownPeers(f *testing.F) {
	var first strings.Builder
	for i := range byte(6) {
		first.WriteString(peerBlock(i, "allowed_ip=10.0.0.1/32\n"))
	}
	f.Add("listen_port=1\n"+first.String(), "listen_port=2\n", "", uint16(14), uint16(2000), uint8(3))
	f.Add(first.String(), "", "errno=0\n", uint16(0), uint16(600), uint8(2))
	f.Add(first.String(), peerBlock(1, "allowed_ip=10.0.0.1/32\n"), "\n", uint16(0), uint16(2000), uint8(4))
	f.Add(first.String()+"errno=0\n", "", "", uint16(0), uint16(2000), uint8(2))
	f.Add(first.String(), "", "bogus\n", uint16(100), uint16(1800), uint8(1))
	f.Fuzz(func(t *testing.T, first, prefix, suffix string, from, to uint16, n uint8) {
		parts := int(n%6) + 1
		before := textsOf(t, first, parts)
		lo, hi := min(int(from), len(first)), min(int(to), len(first))
		text := prefix + first[lo:max(lo, hi)] + suffix

		got, _, err := knownRead(t, text, parts, before)
		matchOnePiece(t, "skipping known peers", text, got, err)
	})
}

// TestReadPeerText: ReadPeerText reads what EachPeer parses, into the
// buffer it is given when that is large enough, and fails once closed.
func TestReadPeerText(t *testing.T) {
	tn := newTestNetstack(t, "wgreadtext", "10.79.7.1/24")
	var changes []wgtypes.PeerConfig
	for range 20 {
		changes = append(changes, wgtypes.PeerConfig{PublicKey: newKey(t).PublicKey()})
	}
	if err := tn.Configure(changes); err != nil {
		t.Fatal(err)
	}
	buf, err := tn.ReadPeerText(nil)
	if err != nil {
		t.Fatal(err)
	}
	var fromText []wgtypes.Peer
	if err := EachPeerInText(string(buf), 2, nil, func(_ int, v *PeerView) error {
		fromText = append(fromText, v.Peer())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(fromText, func(a, b wgtypes.Peer) int { return bytes.Compare(a.PublicKey[:], b.PublicKey[:]) })
	if want, err := tn.Peers(); err != nil || !reflect.DeepEqual(fromText, want) {
		t.Fatalf("the text read parses to %d peers, Peers gives %d (%v)", len(fromText), len(want), err)
	}
	big := make([]byte, 5, 2*len(buf))
	again, err := tn.ReadPeerText(big)
	if err != nil || len(again) != len(buf) || &again[0] != &big[0] {
		t.Fatalf("read %d bytes (%v) into a new buffer, want %d into the one given", len(again), err, len(buf))
	}
	if err := tn.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.ReadPeerText(big); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadPeerText after Close = %v, want ErrClosed", err)
	}
}

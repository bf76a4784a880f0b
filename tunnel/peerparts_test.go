package tunnel

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// partsOf parses text with scanDeviceTextParts and returns the peers of
// each part, in order.
func partsOf(text string, n, minPart int) ([][]wgtypes.Peer, error) {
	var mu sync.Mutex
	got := make([][]wgtypes.Peer, n)
	err := scanDeviceTextParts(text, n, minPart, nil, func(part int, v *PeerView) error {
		p := v.Peer()
		mu.Lock()
		defer mu.Unlock()
		got[part] = append(got[part], p)
		return nil
	})
	return got, err
}

// peerBlock is one peer as wireguard-go writes it.
func peerBlock(i byte, extra string) string { return peerBlockOf(testKey(i), extra) }

// peerBlockOf is peerBlock of the peer with key k.
func peerBlockOf(k wgtypes.Key, extra string) string {
	return "public_key=" + hexOf(k) + "\npreshared_key=" + hexOf(wgtypes.Key{}) +
		"\nprotocol_version=1\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n" +
		"persistent_keepalive_interval=0\n" + extra
}

// TestScanDeviceTextParts: split in parts, a reply gives the peers it
// gives in one piece, in the same order once the parts are put end to
// end, and the same errors, at the same lines.
func TestScanDeviceTextParts(t *testing.T) {
	var good strings.Builder
	good.WriteString("private_key=" + hexOf(testKey(200)) + "\nlisten_port=51820\n")
	for i := range byte(40) {
		good.WriteString(peerBlock(i, fmt.Sprintf("allowed_ip=10.0.0.%d/32\n", i)))
	}
	// twin is testKey(1) but for its last byte: its first 8 bytes are the
	// same (keySet tells them apart by the whole key).
	twin := testKey(1)
	twin[31]++
	var peers, withTwin strings.Builder // peers 0 to 39 alone; the same, twin after 1
	for i := range byte(40) {
		peers.WriteString(peerBlock(i, ""))
		withTwin.WriteString(peerBlock(i, ""))
		if i == 1 {
			withTwin.WriteString(peerBlockOf(twin, ""))
		}
	}
	tests := []struct {
		name, text string
		wantErr    string // "" for none
	}{
		{"empty", "", ""},
		{"device only", "listen_port=1\n", ""},
		{"peers", good.String(), ""},
		{"peers then errno", good.String() + "errno=0\n\n", ""},
		{"blank line ends the reply", good.String() + "\n" + peerBlock(0, ""), ""},
		{"bad line late", good.String() + "public_key=" + hexOf(testKey(99)) + "\nbogus=1\n", "parsing uapi line 364: unknown peer key"},
		{"errno then peers", peerBlock(50, "") + "errno=0\n" + good.String(), "parsing uapi line 10: data after errno"},
		{"errno then a bad line", peerBlock(50, "") + "errno=0\npublic_key=zz\n", "parsing uapi line 10: data after errno"},
		{"duplicate in one part", peerBlock(60, "") + peerBlock(60, ""), "duplicate peer"},
		{"duplicate across parts", good.String() + peerBlock(1, ""), "duplicate peer"},
		{"first 8 bytes shared in one part", withTwin.String(), ""},
		{"first 8 bytes shared across parts", good.String() + peerBlockOf(twin, ""), ""},
		{"duplicate of a key sharing its first 8 bytes", good.String() + peerBlockOf(twin, "") + peerBlockOf(twin, ""), "duplicate peer"},
		{"duplicate across parts of a key sharing its first 8 bytes", peerBlockOf(twin, "") + peers.String() + peerBlockOf(twin, ""), "duplicate peer"},
		{"nonzero errno", good.String() + "errno=5\n", "device reported errno=5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []wgtypes.Peer
			var st DeviceState
			werr := scanDeviceText(tt.text, &st, func(v *PeerView) error { want = append(want, v.Peer()); return nil })
			if (werr == nil) != (tt.wantErr == "") || (werr != nil && !strings.Contains(werr.Error(), tt.wantErr)) {
				t.Fatalf("scanDeviceText = %v, want %q", werr, tt.wantErr)
			}
			for _, n := range []int{1, 2, 3, 4, 7} {
				got, err := partsOf(tt.text, n, 1)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("%d parts: error %v, want %q", n, err, tt.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%d parts: %v", n, err)
				}
				if all := slices.Concat(got...); !reflect.DeepEqual(all, want) {
					t.Fatalf("%d parts: %d peers, want %d: %+v", n, len(all), len(want), got)
				}
				if used := len(slices.DeleteFunc(got, func(p []wgtypes.Peer) bool { return p == nil })); len(want) >= n && used != n {
					t.Fatalf("%d parts asked, %d used, for %d peers", n, used, len(want))
				}
			}
		})
	}
}

// TestScanDeviceTextPartsStops: an error of the function ends every
// part and comes back as it is.
func TestScanDeviceTextPartsStops(t *testing.T) {
	var text strings.Builder
	for i := range byte(100) {
		text.WriteString(peerBlock(i, ""))
	}
	stop := errors.New("enough")
	err := scanDeviceTextParts(text.String(), 4, 1, nil, func(part int, _ *PeerView) error {
		if part == 2 {
			return stop
		}
		return nil
	})
	var fe fnError
	if !errors.As(err, &fe) || fe.err != stop {
		t.Fatalf("scanDeviceTextParts = %v, want the function's error", err)
	}
}

// FuzzScanDeviceTextParts holds the parser in parts to the parser in one
// piece: the same peers in the same order, and an error for the same
// replies, with the same text unless a peer is repeated.
func FuzzScanDeviceTextParts(f *testing.F) {
	k1 := hexOf(testKey(1))
	f.Add("listen_port=1\n"+peerBlock(1, "allowed_ip=10.0.0.1/32\n")+peerBlock(2, "endpoint=1.2.3.4:5\n")+peerBlock(3, ""), uint8(3), uint8(40))
	f.Add(peerBlock(1, "")+"errno=0\n"+peerBlock(2, ""), uint8(2), uint8(1))
	f.Add(peerBlock(1, "")+peerBlock(2, "")+peerBlock(1, ""), uint8(3), uint8(1))
	f.Add("public_key="+k1+"\n\npublic_key="+k1+"\n", uint8(2), uint8(1))
	f.Fuzz(func(t *testing.T, text string, n, minPart uint8) {
		got, err := partsOf(text, int(n%8)+1, int(minPart))
		matchOnePiece(t, "in parts", text, got, err)
	})
}

// TestEachPeerInParts: on a real device with enough peers to be split,
// EachPeerInParts reports each peer Peers does, once, using more than one
// part.
func TestEachPeerInParts(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	tn := newTestNetstack(t, "wgparts", "10.77.0.1/24")
	psk, ka := newKey(t), 5*time.Second
	var changes []wgtypes.PeerConfig
	for n := range 600 { // about 180 kB of reply: three parts of minPartBytes
		c := wgtypes.PeerConfig{PublicKey: newKey(t).PublicKey(),
			AllowedIPs: []net.IPNet{{IP: net.IPv4(10, 77, byte(1+n/250), byte(n%250)).To4(), Mask: net.CIDRMask(32, 32)}}}
		if n%3 == 0 {
			c.PresharedKey, c.PersistentKeepaliveInterval = &psk, &ka
			c.Endpoint = &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1000 + n}
			c.AllowedIPs = append(c.AllowedIPs, net.IPNet{IP: net.ParseIP(fmt.Sprintf("fd77::%d", n)), Mask: net.CIDRMask(128, 128)})
		}
		changes = append(changes, c)
	}
	if err := tn.Configure(changes); err != nil {
		t.Fatal(err)
	}
	var partsSeen map[int]bool
	got, want := readWhileStill(t, tn, func() []wgtypes.Peer {
		var mu sync.Mutex
		var got []wgtypes.Peer
		partsSeen = map[int]bool{}
		if err := tn.EachPeerInParts(4, nil, func(part int, v *PeerView) error {
			p := v.Peer()
			mu.Lock()
			defer mu.Unlock()
			got = append(got, p)
			partsSeen[part] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	})
	if len(want) != len(changes) || !reflect.DeepEqual(got, want) {
		t.Fatalf("EachPeerInParts gave %d peers, Peers %d (of %d); or they differ", len(got), len(want), len(changes))
	}
	if len(partsSeen) < 2 {
		t.Fatalf("peers came in parts %v, want more than one", partsSeen)
	}
	stop := errors.New("enough")
	if err := tn.EachPeerInParts(4, nil, func(int, *PeerView) error { return stop }); err != stop {
		t.Fatalf("EachPeerInParts with a failing function = %v, want its error", err)
	}
	if err := tn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tn.EachPeerInParts(2, nil, func(int, *PeerView) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("EachPeerInParts after Close = %v, want ErrClosed", err)
	}
}

// readWhileStill returns what read gave, sorted by key, and the device's
// peers (Tunnel.Peers) as they were both before and after it: the device
// changes what it reports by itself (a peer with an endpoint and a
// keepalive sends, and its transfer_tx grows), so a read is compared
// only with a view that stayed the same around it.
func readWhileStill(t *testing.T, tn *Tunnel, read func() []wgtypes.Peer) (got, want []wgtypes.Peer) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		before, err := tn.Peers()
		if err != nil {
			t.Fatal(err)
		}
		got = read()
		if want, err = tn.Peers(); err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(before, want) {
			break
		}
		if attempt == 20 {
			t.Fatal("the device's peers changed during each of 20 reads")
		}
	}
	slices.SortFunc(got, func(a, b wgtypes.Peer) int { return bytes.Compare(a.PublicKey[:], b.PublicKey[:]) })
	return got, want
}

// matchOnePiece fails t unless got and err, text read another way (how),
// are what the one-piece parser makes of text: it fails too, with the
// same error (a duplicate peer may be reported in either's words), or
// the peers got hold, in order, are the ones it reports.
func matchOnePiece(t *testing.T, how, text string, got [][]wgtypes.Peer, err error) {
	t.Helper()
	var want []wgtypes.Peer
	var st DeviceState
	werr := scanDeviceText(text, &st, func(v *PeerView) error { want = append(want, v.Peer()); return nil })
	if (err == nil) != (werr == nil) {
		t.Fatalf("%s: %v; in one piece: %v", how, err, werr)
	}
	if werr != nil {
		if !strings.Contains(werr.Error(), "duplicate peer") && err.Error() != werr.Error() {
			t.Fatalf("%s: %v; in one piece: %v", how, err, werr)
		}
		return
	}
	if all := slices.Concat(got...); !reflect.DeepEqual(all, want) {
		t.Fatalf("%s: %+v\nin one piece: %+v", how, all, want)
	}
}

// FuzzReplyLen holds the search for a reply's end in ranges to the search
// in one piece.
func FuzzReplyLen(f *testing.F) {
	f.Add("a\nb\n\nc\n\n", uint8(3), uint8(1))
	f.Add("\nabc", uint8(2), uint8(1))
	f.Add("ab\n\n", uint8(4), uint8(1))
	f.Add("a\n\n\nb", uint8(2), uint8(2))
	f.Add("abc\n", uint8(2), uint8(1))
	f.Fuzz(func(t *testing.T, text string, n, minPart uint8) {
		want := len(text)
		if strings.HasPrefix(text, "\n") {
			want = 0
		} else if end := strings.Index(text, "\n\n"); end >= 0 {
			want = end + 1
		}
		if got := replyLen(text, int(n%8)+1, int(minPart)); got != want {
			t.Fatalf("replyLen(%q, %d, %d) = %d, want %d", text, n%8+1, minPart, got, want)
		}
	})
}

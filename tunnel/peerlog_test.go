package tunnel

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn/bindtest"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/tuntest"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// captured is a slog.Handler that keeps every record, for tests that look
// at levels and attributes rather than text.
type captured struct {
	mu      sync.Mutex
	records []slog.Record
}

func (c *captured) Enabled(context.Context, slog.Level) bool { return true }
func (c *captured) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *captured) WithGroup(string) slog.Handler            { return c }
func (c *captured) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r.Clone())
	return nil
}

// matching returns the records whose message contains s.
func (c *captured) matching(s string) []slog.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []slog.Record
	for _, r := range c.records {
		if strings.Contains(r.Message, s) {
			out = append(out, r)
		}
	}
	return out
}

func attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

const noEndpoint = "no known endpoint for peer"

// Issue 11 item 6, with a real wireguard-go device: a peer with a
// persistent keepalive but no endpoint makes the device complain at every
// handshake attempt; the adapter reports it once, at info, and again only
// after the peer's state changed.
func TestPeerWithoutEndpointLoggedOnce(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	h := &captured{}
	dlog := newDeviceLog(slog.New(h))
	inner := dlog.logger()
	var attempts atomic.Int32 // complaints the device made, logged or not
	wrapped := &device.Logger{
		Verbosef: inner.Verbosef,
		Errorf: func(format string, args ...any) {
			if strings.Contains(fmt.Sprintf(format, args...), noEndpoint) {
				attempts.Add(1)
			}
			inner.Errorf(format, args...)
		},
	}
	dev := device.NewDevice(tuntest.NewChannelTUN().TUN(), bindtest.NewChannelBinds()[0], wrapped)
	defer dlog.stop()
	defer dev.Close()
	peer := newKey(t).PublicKey()
	set := func(keepalive int) {
		t.Helper()
		uapi := fmt.Sprintf("private_key=%s\npublic_key=%s\npersistent_keepalive_interval=%d\nallowed_ip=10.77.0.2/32\n",
			hexOf(newKey(t)), hexOf(peer), keepalive)
		if keepalive != 1 {
			uapi = fmt.Sprintf("public_key=%s\nupdate_only=true\npersistent_keepalive_interval=%d\n", hexOf(peer), keepalive)
		}
		if err := dev.IpcSet(uapi); err != nil {
			t.Fatal(err)
		}
	}
	waitAttempts := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for attempts.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("the device made %d handshake attempts in 30s, want %d", attempts.Load(), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := dev.Up(); err != nil {
		t.Fatal(err)
	}
	set(1)
	waitAttempts(2) // the first at once, the retry after about 5s

	got := h.matching(noEndpoint)
	if len(got) != 1 {
		t.Fatalf("after %d complaints of the device, %d log lines; want exactly 1", attempts.Load(), len(got))
	}
	if got[0].Level != slog.LevelInfo {
		t.Errorf("logged at %v, want INFO (a peer that has not connected yet is no error)", got[0].Level)
	}
	if p := attr(got[0], "peer"); !strings.HasPrefix(p, "peer(") {
		t.Errorf("peer attribute = %q, want wireguard-go's peer(…) name", p)
	}
	for _, r := range h.records {
		if r.Level >= slog.LevelError {
			t.Errorf("an error was logged: %q", r.Message)
		}
	}

	// A change of the peer (here its keepalive) ends the complaint: the
	// next one is reported again, once.
	set(2)
	before := attempts.Load()
	waitAttempts(before + 1)
	if got := h.matching(noEndpoint); len(got) != 2 {
		t.Fatalf("after the peer changed and %d complaints in all, %d log lines; want 2", attempts.Load(), len(got))
	}
}

func TestPeerComplaints(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	c := newPeerComplaints(func() time.Time { return clock })
	step := func(d time.Duration) { clock = clock.Add(d) }
	const a, b = "peer(AAAA…aaaa)", "peer(BBBB…bbbb)"
	text := "peer(AAAA…aaaa) - Failed to send handshake initiation: " + noEndpoint

	check := func(name string, peer, text string, wantOK bool, wantSuppressed int) {
		t.Helper()
		ok, n := c.report(peer, text)
		if ok != wantOK || n != wantSuppressed {
			t.Errorf("%s: report = %v, %d; want %v, %d", name, ok, n, wantOK, wantSuppressed)
		}
	}
	check("first", a, text, true, 0)
	for i := 0; i < 20; i++ {
		step(5 * time.Second)
		check(fmt.Sprintf("repeat %d", i+1), a, text, false, 0)
	}
	check("another peer", b, text, true, 0)
	check("another text", a, "peer(AAAA…aaaa) - Failed to send data packets: boom", true, 0)
	check("back to the first text", a, text, true, 0)

	// A handshake (any state change of the peer) ends the complaint.
	step(time.Second)
	check("repeat before handshake", a, text, false, 0)
	c.observe("%v - Received handshake response", []any{peerName(a)})
	check("after handshake", a, text, true, 0)
	c.observe("%v - Sending keepalive packet", []any{peerName(a)}) // not a change
	check("keepalive is no change", a, text, false, 0)
	c.observe("%v - UAPI: Updating endpoint", []any{peerName(a)})
	check("after endpoint set", a, text, true, 0)

	// Quiet for long: the next one is news.
	step(complaintQuiet)
	check("after a quiet period", a, text, true, 0)

	// Removing all peers forgets everything.
	c.observe("UAPI: Removing all peers", nil)
	check("after removing all", b, text, true, 0)

	// Memory is bounded.
	for i := 0; i < maxComplaints+100; i++ {
		c.report(fmt.Sprintf("peer(%d)", i), text)
	}
	if n := len(c.seen); n > maxComplaints {
		t.Errorf("%d peers remembered, want at most %d", n, maxComplaints)
	}
}

// peerName prints as wireguard-go's *device.Peer does.
type peerName string

func (p peerName) String() string { return string(p) }

func TestComplaintReminderCountsSuppressed(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	c := newPeerComplaints(func() time.Time { return clock })
	const p, text = "peer(x)", "peer(x) - Failed to send handshake initiation: no known endpoint for peer"
	if ok, _ := c.report(p, text); !ok {
		t.Fatal("first complaint not reported")
	}
	left := 0
	for clock = clock.Add(5 * time.Second); ; clock = clock.Add(5 * time.Second) {
		ok, n := c.report(p, text)
		if ok {
			if n != left {
				t.Fatalf("reminder says %d lines were left out, want %d", n, left)
			}
			if d := clock.Sub(time.Unix(1_700_000_000, 0)); d < complaintRemind {
				t.Fatalf("reminded after %v, want after %v", d, complaintRemind)
			}
			return
		}
		left++
	}
}

func TestComplaintLevel(t *testing.T) {
	if l := complaintLevel("peer(x) - Failed to send handshake initiation: " + noEndpoint); l != slog.LevelInfo {
		t.Errorf("no endpoint: %v, want INFO", l)
	}
	if l := complaintLevel("peer(x) - Failed to send data packets: sendmsg: network is unreachable"); l != slog.LevelWarn {
		t.Errorf("send failure: %v, want WARN", l)
	}
}

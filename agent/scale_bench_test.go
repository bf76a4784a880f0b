package agent_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// scaleAdds is how many single peers each size adds, one at a time, for
// the add-one figures (the median is reported).
const scaleAdds = 25

// BenchmarkPeerSetScale measures, for an interface holding 10k peers
// (and 60k without -short), issue 14 items 3 and 4 against raw
// wireguard-go in the same run:
//
//   - set: one replace-all PUT /v1/wg/{iface}/peers of every peer through
//     a real agent (HTTP, signature, validation, device, journal) vs one
//     raw IpcSet of the same peers on a bare device;
//   - dump: GET /wg/{iface}/dump round trip, and its time inside the
//     agent's handler, vs one raw IpcGet (and the device's own
//     IpcGetOperation into io.Discard, which IpcGet adds a growing buffer
//     to: the floor of any reader of the device);
//   - add: one more peer, POST /wg/{iface}/peers round trip and the time
//     inside the agent's handler, vs one raw IpcSet of one peer and one
//     fsync of a small append on the file system of the agent's state
//     (an add waits for two: the replay log's and the journal's).
//
// The bare device is a wireguard-go device on a netstack TUN, given the
// minimal UAPI text (public_key, allowed_ip): it does no more than the
// device must, so it runs at the device's own speed.
//
//	go test -run '^$' -bench PeerSetScale -benchtime 1x ./agent/
func BenchmarkPeerSetScale(b *testing.B) {
	sizes := []int{10000, 60000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("peers=%dk", n/1000), func(b *testing.B) {
			var m scaleMetrics
			for i := 0; i < b.N; i++ {
				m.add(measureScale(b, n))
			}
			m.report(b)
		})
	}
}

type scaleRun struct {
	rawSet, set, rawGet, rawGetOp, dump, dumpAgent, rawAdd, fsync, addRTT, addAgent time.Duration
}

type scaleMetrics struct{ runs []scaleRun }

func (m *scaleMetrics) add(r scaleRun) { m.runs = append(m.runs, r) }

func (m *scaleMetrics) report(b *testing.B) {
	med := func(f func(scaleRun) time.Duration) float64 {
		var v []time.Duration
		for _, r := range m.runs {
			v = append(v, f(r))
		}
		return ms(median(v))
	}
	rawSet, set := med(func(r scaleRun) time.Duration { return r.rawSet }), med(func(r scaleRun) time.Duration { return r.set })
	rawGet, dump := med(func(r scaleRun) time.Duration { return r.rawGet }), med(func(r scaleRun) time.Duration { return r.dump })
	b.ReportMetric(rawSet, "raw-set-ms")
	b.ReportMetric(set, "set-ms")
	b.ReportMetric(set/rawSet, "set/raw")
	b.ReportMetric(rawGet, "raw-get-ms")
	b.ReportMetric(dump, "dump-ms")
	b.ReportMetric(dump/rawGet, "dump/raw")
	b.ReportMetric(med(func(r scaleRun) time.Duration { return r.rawGetOp }), "raw-getop-ms")
	b.ReportMetric(med(func(r scaleRun) time.Duration { return r.dumpAgent }), "dump-agent-ms")
	b.ReportMetric(med(func(r scaleRun) time.Duration { return r.rawAdd }), "raw-add-ms")
	b.ReportMetric(med(func(r scaleRun) time.Duration { return r.fsync }), "fsync-ms")
	b.ReportMetric(med(func(r scaleRun) time.Duration { return r.addRTT }), "add-rtt-ms")
	b.ReportMetric(med(func(r scaleRun) time.Duration { return r.addAgent }), "add-agent-ms")
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// scalePeer is the i-th peer of a scale run: a random key (any 32 bytes
// is a public key to the device) and 172.16.0.0/12 + i.
type scalePeer struct {
	key wgtypes.Key
	ip  netip.Prefix
}

func scalePeers(b *testing.B, n int) []scalePeer {
	out := make([]scalePeer, n)
	raw := make([]byte, 32*n)
	if _, err := rand.Read(raw); err != nil {
		b.Fatal(err)
	}
	for i := range out {
		copy(out[i].key[:], raw[32*i:])
		v := 0xac100000 + uint32(i) // 172.16.0.0 + i
		out[i].ip = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 32)
	}
	return out
}

func rawSetText(peers []scalePeer) string {
	var sb strings.Builder
	for _, p := range peers {
		sb.WriteString("public_key=")
		sb.WriteString(hex.EncodeToString(p.key[:]))
		sb.WriteString("\nallowed_ip=")
		sb.WriteString(p.ip.String())
		sb.WriteString("\n")
	}
	return sb.String()
}

func measureScale(b *testing.B, n int) scaleRun {
	peers := scalePeers(b, n+2*scaleAdds)
	base, extra := peers[:n], peers[n:]
	var r scaleRun
	r.rawSet, r.rawGet, r.rawGetOp, r.rawAdd = measureRaw(b, base, extra[:scaleAdds])
	r.fsync = measureFsync(b)
	runtime.GC()

	a := agenttest.Start(b, agenttest.Options{})
	timed := &handlerTimer{h: a.Handler()}
	srv := httptest.NewServer(timed)
	defer srv.Close()
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: srv.URL, Secret: []byte(a.Secret),
		HTTPClient: &http.Client{Timeout: 5 * time.Minute}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Health(ctx); err != nil {
		b.Fatal(err)
	}
	req := agentapi.SyncRequest{Peers: make([]agentapi.PeerSpec, 0, n)}
	for _, p := range base {
		req.Peers = append(req.Peers, agentapi.PeerSpec{PublicKey: p.key.String(), AllowedIPs: []string{p.ip.String()}})
	}
	start := time.Now()
	if _, err := c.SyncPeers(ctx, "wg0", req); err != nil {
		b.Fatalf("replace-all of %d peers: %v", n, err)
	}
	r.set = time.Since(start)
	req = agentapi.SyncRequest{}

	var dumps, inside []time.Duration
	for range 3 {
		timed.reset()
		start := time.Now()
		d, err := c.Dump(ctx, "wg0")
		if err != nil {
			b.Fatal(err)
		}
		dumps = append(dumps, time.Since(start))
		inside = append(inside, timed.last())
		if len(d.Peers) != n {
			b.Fatalf("dump has %d peers, want %d", len(d.Peers), n)
		}
	}
	r.dump, r.dumpAgent = median(dumps), median(inside)

	var rtts []time.Duration
	inside = nil
	for _, p := range extra[scaleAdds:] {
		timed.reset()
		start := time.Now()
		if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: p.key.String(), AllowedIPs: []string{p.ip.String()}}); err != nil {
			b.Fatal(err)
		}
		rtts = append(rtts, time.Since(start))
		inside = append(inside, timed.last())
	}
	r.addRTT, r.addAgent = median(rtts), median(inside)
	srv.Close()
	if err := a.Stop(); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	return r
}

// measureRaw times, on a bare wireguard-go device: one IpcSet of base, the
// median of three IpcGets and of three IpcGetOperations into io.Discard,
// and the median IpcSet of one peer of extra.
func measureRaw(b *testing.B, base, extra []scalePeer) (set, get, getOp, add time.Duration) {
	dev := newRawDevice(b, "10.98.0.1")
	defer dev.Close()
	text := rawSetText(base)
	start := time.Now()
	if err := dev.IpcSet(text); err != nil {
		b.Fatal(err)
	}
	set = time.Since(start)
	var gets, getOps, adds []time.Duration
	for range 3 {
		start := time.Now()
		if _, err := dev.IpcGet(); err != nil {
			b.Fatal(err)
		}
		gets = append(gets, time.Since(start))
		start = time.Now()
		if err := dev.IpcGetOperation(io.Discard); err != nil {
			b.Fatal(err)
		}
		getOps = append(getOps, time.Since(start))
	}
	for _, p := range extra {
		text := rawSetText([]scalePeer{p})
		start := time.Now()
		if err := dev.IpcSet(text); err != nil {
			b.Fatal(err)
		}
		adds = append(adds, time.Since(start))
	}
	return set, median(gets), median(getOps), median(adds)
}

// newRawDevice is a bare wireguard-go device on a netstack TUN at addr,
// up, with a private key, a random port and no peers: it does no more
// than the device must, so it runs at the device's own speed.
func newRawDevice(b *testing.B, addr string) *device.Device {
	tdev, _, err := netstack.CreateNetTUN([]netip.Addr{netip.MustParseAddr(addr)}, nil, 1420)
	if err != nil {
		b.Fatal(err)
	}
	dev := device.NewDevice(tdev, conn.NewDefaultBind(), device.NewLogger(device.LogLevelSilent, ""))
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		dev.Close()
		b.Fatal(err)
	}
	if err := dev.IpcSet("private_key=" + hex.EncodeToString(priv[:]) + "\nlisten_port=0\n"); err != nil {
		dev.Close()
		b.Fatal(err)
	}
	if err := dev.Up(); err != nil {
		dev.Close()
		b.Fatal(err)
	}
	return dev
}

// measureFsync is the median time of appending 64 bytes to a file and
// fsyncing it, 25 times, in a directory of the same file system as the
// agent's state (the test's temporary directory, as agenttest's).
func measureFsync(b *testing.B) time.Duration {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "fsync"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rec := make([]byte, 64)
	var ds []time.Duration
	for range 25 {
		start := time.Now()
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	return median(ds)
}

// handlerTimer serves h and remembers how long the last request took
// inside it: from the request's headers being read to the answer written.
type handlerTimer struct {
	h  http.Handler
	mu sync.Mutex
	d  time.Duration
}

func (t *handlerTimer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	t.h.ServeHTTP(w, r)
	d := time.Since(start)
	_, _ = io.Copy(io.Discard, r.Body)
	t.mu.Lock()
	t.d = d
	t.mu.Unlock()
}

func (t *handlerTimer) reset() {
	t.mu.Lock()
	t.d = 0
	t.mu.Unlock()
}

func (t *handlerTimer) last() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.d
}

package tunnel

import (
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// heapNode is a piece of a large live heap full of pointers, like the
// agent's (its device's peers, its peer table, its journal).
type heapNode struct {
	next  *heapNode
	bytes [200]byte
}

// BenchmarkIpcGetOperation asks whether a process like the agent's makes
// the device's own UAPI get of 10k peers costlier than on a bare device:
// the device formats its reply into a buffer from a sync.Pool, which two
// collections empty, so that the next get grows a 3 MB buffer from
// nothing; and a large live heap makes every collection longer. Each case
// reports the fastest of its gets (min-ms) and the mean (mean-ms): warm,
// gets one after the other, the pool's buffer reused; cold, two
// collections before each get, the pool emptied; big-heap-warm and
// big-heap-cold, the same with about 300 MB more live heap.
//
//	go test -run '^$' -bench IpcGetOperation -benchtime 15x ./tunnel/
func BenchmarkIpcGetOperation(b *testing.B) {
	tn, err := NewNetstack(Config{Name: "wgbgetop", PrivateKey: newKey(b), Addresses: prefixes(b, "10.75.0.1/24"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer tn.Close()
	changes := make([]wgtypes.PeerConfig, 10000)
	for n := range changes {
		var k wgtypes.Key
		if _, err := rand.Read(k[:]); err != nil {
			b.Fatal(err)
		}
		changes[n] = wgtypes.PeerConfig{PublicKey: k,
			AllowedIPs: []net.IPNet{{IP: net.IPv4(172, 16, byte(n>>8), byte(n)).To4(), Mask: net.CIDRMask(32, 32)}}}
	}
	if err := tn.Configure(changes); err != nil {
		b.Fatal(err)
	}
	get := func(b *testing.B, before func()) {
		fastest, total := time.Duration(1<<62), time.Duration(0)
		for b.Loop() {
			b.StopTimer()
			before()
			b.StartTimer()
			start := time.Now()
			if err := tn.dev.IpcGetOperation(io.Discard); err != nil {
				b.Fatal(err)
			}
			d := time.Since(start)
			fastest, total = min(fastest, d), total+d
		}
		b.ReportMetric(float64(fastest)/1e6, "min-ms")
		b.ReportMetric(float64(total)/1e6/float64(b.N), "mean-ms")
	}
	warm := func() {}
	cold := func() { runtime.GC(); runtime.GC() }
	b.Run("warm", func(b *testing.B) { get(b, warm) })
	b.Run("cold", func(b *testing.B) { get(b, cold) })
	var heap *heapNode
	for range 1_500_000 {
		heap = &heapNode{next: heap, bytes: [200]byte{1}}
	}
	b.Run("big-heap-warm", func(b *testing.B) { get(b, warm) })
	b.Run("big-heap-cold", func(b *testing.B) { get(b, cold) })
	runtime.KeepAlive(heap)
}

package agent_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// BenchmarkDump10k is the dump part of BenchmarkPeerSetScale alone, for a
// CPU profile of it: a real agent holding 10k peers, GET /wg/wg0/dump
// round trip through agentapi.Client, once per iteration; min-ms is the
// fastest one (what a loaded machine disturbs least), med-ms the median.
// idle: the peers do not change between two dumps (the agent reuses what
// the last dump encoded of each); moved: every peer's lines changed since
// the last dump (its allowed IP, moved by a replace-all before each dump,
// outside the time), as when every peer's counters moved. gcs is how many
// collections ran during the loop (the process holds the device's 10k
// peers, about 300 MB full of pointers: one that runs during a dump takes
// a CPU of the two and slows the device's walk).
//
// The baseline, in the same loop: a bare wireguard-go device holding the
// same 10k peers (as BenchmarkPeerSetScale's), its IpcGetOperation into
// io.Discard (raw-getop-*: the device's walk alone, the floor of any
// reader) and its IpcGet (raw-get-*), each iteration, before or after the
// dump in turn; dump/raw-get and dump/raw-getop are the ratios of the
// medians. So a slow dump can be told from a slow device.
//
// The phases of each dump, as seen from outside the agent (medians, ms
// from the client's call): handler-ms, the agent's handler entered;
// first-write-ms, its first bytes given to the connection (the device
// read and parsed); last-write-ms, its last bytes written; first-byte-ms, the client's
// first byte of the answer. WGFLEET_DUMP_PHASES=1 logs them for each
// dump, with the raw gets next to it.
//
//	go test -run '^$' -bench Dump10k -benchtime 20x -cpuprofile cpu.out ./agent/
func BenchmarkDump10k(b *testing.B) {
	const n = 10000
	peers := scalePeers(b, n)
	raw := newRawDevice(b, "10.98.0.2")
	defer raw.Close()
	if err := raw.IpcSet(rawSetText(peers)); err != nil {
		b.Fatal(err)
	}
	a := agenttest.Start(b, agenttest.Options{})
	stamps := &phaseStamps{h: a.Handler()}
	srv := httptest.NewServer(stamps)
	defer srv.Close()
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: srv.URL, Secret: []byte(a.Secret),
		HTTPClient: &http.Client{Timeout: 5 * time.Minute}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	replaceAll := func(moved bool) {
		req := agentapi.SyncRequest{Peers: make([]agentapi.PeerSpec, 0, n)}
		for i, p := range peers {
			ip := p.ip.String()
			if moved {
				ip = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 128 + byte(i>>16), byte(i >> 8), byte(i)}), 32).String()
			}
			req.Peers = append(req.Peers, agentapi.PeerSpec{PublicKey: p.key.String(), AllowedIPs: []string{ip}})
		}
		if _, err := c.SyncPeers(ctx, "wg0", req); err != nil {
			b.Fatalf("replace-all of %d peers: %v", n, err)
		}
	}
	replaceAll(false)
	logPhases := os.Getenv("WGFLEET_DUMP_PHASES") == "1"
	for _, moving := range []bool{false, true} {
		name := "idle"
		if moving {
			name = "moved"
		}
		b.Run(name, func(b *testing.B) {
			var times, getOps, gets []time.Duration
			var phases [4][]time.Duration
			moved := false
			dump := func() {
				var firstByte time.Time
				tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
					GotFirstResponseByte: func() { firstByte = time.Now() }})
				stamps.reset()
				start := time.Now()
				d, err := c.Dump(tctx, "wg0")
				times = append(times, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if len(d.Peers) != n {
					b.Fatalf("dump has %d peers, want %d", len(d.Peers), n)
				}
				handler, first, last := stamps.get()
				for k, t := range []time.Time{handler, first, last, firstByte} {
					phases[k] = append(phases[k], t.Sub(start))
				}
			}
			raws := func() {
				start := time.Now()
				if err := raw.IpcGetOperation(io.Discard); err != nil {
					b.Fatal(err)
				}
				getOps = append(getOps, time.Since(start))
				start = time.Now()
				if _, err := raw.IpcGet(); err != nil {
					b.Fatal(err)
				}
				gets = append(gets, time.Since(start))
			}
			// What the set-up left (10k peers made: hundreds of MB) is
			// collected before the first dump, not during the first
			// dumps; the collections the dumps cause are counted.
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			k := 0
			for b.Loop() {
				if moving {
					moved = !moved
					replaceAll(moved)
				}
				if k%2 == 0 {
					raws()
					dump()
				} else {
					dump()
					raws()
				}
				if logPhases {
					b.Logf("dump %2d: %5.1f ms (handler %4.1f, first write %5.1f, last write %5.1f, first byte %5.1f); raw getop %5.1f, get %5.1f",
						k, ms(times[k]), ms(phases[0][k]), ms(phases[1][k]), ms(phases[2][k]), ms(phases[3][k]), ms(getOps[k]), ms(gets[k]))
				}
				k++
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(ms(slices.Min(times)), "min-ms")
			b.ReportMetric(ms(median(times)), "med-ms")
			b.ReportMetric(ms(slices.Min(getOps)), "raw-getop-min-ms")
			b.ReportMetric(ms(median(getOps)), "raw-getop-med-ms")
			b.ReportMetric(ms(slices.Min(gets)), "raw-get-min-ms")
			b.ReportMetric(ms(median(gets)), "raw-get-med-ms")
			b.ReportMetric(float64(median(times))/float64(median(gets)), "dump/raw-get")
			b.ReportMetric(float64(median(times))/float64(median(getOps)), "dump/raw-getop")
			for k, unit := range []string{"handler-ms", "first-write-ms", "last-write-ms", "first-byte-ms"} {
				b.ReportMetric(ms(median(phases[k])), unit)
			}
			b.ReportMetric(float64(after.NumGC-before.NumGC), "gcs")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// phaseStamps serves h and notes, for the last request, when the handler
// was entered and when it wrote its first and last bytes.
type phaseStamps struct {
	h                    http.Handler
	mu                   sync.Mutex
	handler, first, last time.Time
}

func (p *phaseStamps) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.handler = time.Now()
	p.mu.Unlock()
	p.h.ServeHTTP(stampWriter{ResponseWriter: w, p: p}, r)
}

func (p *phaseStamps) reset() {
	p.mu.Lock()
	p.handler, p.first, p.last = time.Time{}, time.Time{}, time.Time{}
	p.mu.Unlock()
}

func (p *phaseStamps) get() (handler, first, last time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handler, p.first, p.last
}

// stampWriter notes in p when bytes are first and last written.
type stampWriter struct {
	http.ResponseWriter
	p *phaseStamps
}

func (w stampWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	if w.p.first.IsZero() {
		w.p.first = time.Now()
	}
	w.p.mu.Unlock()
	n, err := w.ResponseWriter.Write(b)
	w.p.mu.Lock()
	w.p.last = time.Now()
	w.p.mu.Unlock()
	return n, err
}

package agent_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// BenchmarkUnauthenticatedFlood is issue 10 item 5's measurement: 1,000
// connections at once, each sending a POST with a 1 MiB body (half with
// no signature, half with a current timestamp and a well-formed wrong
// one, which passes the header check and takes from the body budget), to
// an agent in a process of its own with its default bounds, while a
// signed client keeps asking. It reports the agent's peak resident memory
// (VmHWM) and the signed requests' answers and latency. Loopback only;
// run with
//
//	go test -run '^$' -bench UnauthenticatedFlood -benchtime 1x ./agent
func BenchmarkUnauthenticatedFlood(b *testing.B) {
	const conns, bodySize = 1000, 1 << 20
	dir := b.TempDir()
	secret := agenttest.RandomSecret()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := startHelperAgent(b, dir, secret, addr)
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	client, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: "http://" + addr, Secret: []byte(secret)})
	if err != nil {
		b.Fatal(err)
	}
	idle := vmKB(b, cmd.Process.Pid, "VmRSS")
	body := []byte(strings.Repeat("x", bodySize))

	for b.Loop() {
		stop := make(chan struct{})
		var signedOK, signedFailed atomic.Int64
		var latMu sync.Mutex
		var lat []time.Duration
		signedDone := make(chan struct{})
		go func() { // the controller, asking all along
			defer close(signedDone)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				start := time.Now()
				var err error
				key, kerr := wgtypes.GeneratePrivateKey()
				if kerr != nil {
					panic(kerr)
				}
				if i%2 == 0 {
					_, err = client.Dump(ctx, "wg0")
				} else {
					_, err = client.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: key.PublicKey().String(), AllowedIPs: []string{fmt.Sprintf("10.%d.%d.%d/32", 100+i/65536, (i/256)%256, i%256)}})
				}
				cancel()
				if err != nil {
					signedFailed.Add(1)
					continue
				}
				signedOK.Add(1)
				latMu.Lock()
				lat = append(lat, time.Since(start))
				latMu.Unlock()
			}
		}()
		var wg sync.WaitGroup
		var answered, refusedBusy atomic.Int64
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", addr, 30*time.Second)
				if err != nil {
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(60 * time.Second))
				hdr := fmt.Sprintf("POST /wg/wg0/peers HTTP/1.1\r\nHost: agent\r\nContent-Length: %d\r\n", bodySize)
				if i%2 == 1 {
					hdr += agentapi.HeaderTimestamp + ": " + strconv.FormatInt(time.Now().Unix(), 10) + "\r\n" + agentapi.HeaderSignature + ": " + strings.Repeat("ab", 32) + "\r\n"
				}
				if _, err := io.WriteString(c, hdr+"\r\n"); err != nil {
					return
				}
				_, _ = c.Write(body) // the agent may close before it is all sent
				buf := make([]byte, 64)
				if n, _ := io.ReadAtLeast(c, buf, 12); n >= 12 {
					answered.Add(1)
					if string(buf[9:12]) == "503" {
						refusedBusy.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		<-signedDone
		peak := vmKB(b, cmd.Process.Pid, "VmHWM")
		slices.Sort(lat)
		median := time.Duration(0)
		if len(lat) > 0 {
			median = lat[len(lat)/2]
		}
		b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
		b.ReportMetric(float64(idle)/1024, "idle-RSS-MiB")
		b.ReportMetric(float64(answered.Load()), "flood-answered")
		b.ReportMetric(float64(refusedBusy.Load()), "flood-503")
		b.ReportMetric(float64(signedOK.Load()), "signed-ok")
		b.ReportMetric(float64(signedFailed.Load()), "signed-failed")
		b.ReportMetric(float64(median.Microseconds())/1000, "signed-median-ms")
	}
}

// vmKB reads a Vm* line of /proc/pid/status, in KiB.
func vmKB(b *testing.B, pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

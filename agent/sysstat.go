package agent

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// procRoot is where the kernel's process and system files are read.
const procRoot = "/proc"

// cpuSampler turns the kernel's cumulative CPU times into a busy
// percentage between two status requests. It is safe for concurrent use.
type cpuSampler struct {
	mu          sync.Mutex
	total, idle uint64 // at the previous sample
}

// sample returns the busy share of all CPUs since the previous sample, and
// false when /proc/stat cannot be read.
func (c *cpuSampler) sample() (float64, bool) {
	data, err := os.ReadFile(procRoot + "/stat")
	if err != nil {
		return 0, false
	}
	total, idle, ok := parseCPUTimes(data)
	if !ok {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	dt, di := total-c.total, idle-c.idle
	c.total, c.idle = total, idle
	if total < dt || dt == 0 || di > dt {
		return 0, true
	}
	return round2(100 * float64(dt-di) / float64(dt)), true
}

// parseCPUTimes reads the "cpu" line of /proc/stat: the sum of its times
// and the idle part of it (idle and iowait).
func parseCPUTimes(data []byte) (total, idle uint64, ok bool) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, s := range f[1:] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		if i < 8 { // guest times are already counted in user and nice
			total += n
		}
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return total, idle, true
}

func (a *Agent) systemStatus() agentapi.SystemStatus {
	var s agentapi.SystemStatus
	if pct, ok := a.cpu.sample(); ok {
		s.CPU = &agentapi.CPUStatus{Count: runtime.NumCPU(), Percent: pct}
		if data, err := os.ReadFile(procRoot + "/loadavg"); err == nil {
			s.CPU.LoadAverage = parseLoadAvg(data)
		}
	}
	if data, err := os.ReadFile(procRoot + "/meminfo"); err == nil {
		s.Memory = parseMeminfo(data)
	}
	s.Disk = diskStatus(a.cfg.StateDir)
	if data, err := os.ReadFile(procRoot + "/net/dev"); err == nil {
		s.Network = parseNetDev(data)
	}
	return s
}

func parseLoadAvg(data []byte) [3]float64 {
	var out [3]float64
	for i, s := range strings.Fields(string(data)) {
		if i == 3 {
			break
		}
		out[i], _ = strconv.ParseFloat(s, 64)
	}
	return out
}

// parseMeminfo reads MemTotal and MemAvailable; nil without them.
func parseMeminfo(data []byte) *agentapi.MemoryStatus {
	var total, avail uint64
	var haveTotal, haveAvail bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 2 && f[2] == "kB" {
			n *= 1024
		}
		switch f[0] {
		case "MemTotal:":
			total, haveTotal = n, true
		case "MemAvailable:":
			avail, haveAvail = n, true
		}
	}
	if !haveTotal || !haveAvail || avail > total || total == 0 {
		return nil
	}
	used := total - avail
	return &agentapi.MemoryStatus{Total: total, Available: avail, Used: used, Percent: round2(100 * float64(used) / float64(total))}
}

// parseNetDev sums /proc/net/dev over every interface but loopback; nil
// when nothing parses.
func parseNetDev(data []byte) *agentapi.NetworkStatus {
	var n agentapi.NetworkStatus
	found := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 10 {
			continue
		}
		var v [4]uint64
		bad := false
		for i, col := range []int{0, 1, 8, 9} {
			x, err := strconv.ParseUint(f[col], 10, 64)
			if err != nil {
				bad = true
				break
			}
			v[i] = x
		}
		if bad {
			continue
		}
		found = true
		n.BytesRecv += v[0]
		n.PacketsRecv += v[1]
		n.BytesSent += v[2]
		n.PacketsSent += v[3]
	}
	if !found {
		return nil
	}
	return &n
}

func round2(f float64) float64 {
	return float64(int64(f*100+0.5)) / 100
}

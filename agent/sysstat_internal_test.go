package agent

import "testing"

func TestParseCPUTimes(t *testing.T) {
	total, idle, ok := parseCPUTimes([]byte("cpu  100 5 50 800 20 1 2 3 7 0\ncpu0 1 2 3 4\n"))
	if !ok || total != 981 || idle != 820 {
		t.Fatalf("got %d, %d, %v; want 981, 820, true", total, idle, ok)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4", "cpu 1 2 x 4 5", "cpu 1 2"} {
		if _, _, ok := parseCPUTimes([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseMeminfo(t *testing.T) {
	m := parseMeminfo([]byte("MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\n"))
	if m == nil || m.Total != 1024000 || m.Available != 256000 || m.Used != 768000 || m.Percent != 75 {
		t.Fatalf("got %+v", m)
	}
	if m := parseMeminfo([]byte("MemTotal: 1000 kB\n")); m != nil {
		t.Errorf("without MemAvailable: %+v, want nil", m)
	}
}

func TestParseNetDev(t *testing.T) {
	const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  999999     999    0    0    0     0          0         0   999999     999    0    0    0     0       0          0
  eth0:    1000      10    0    0    0     0          0         0     2000      20    0    0    0     0       0          0
  wg0:      100       1    0    0    0     0          0         0      200       2    0    0    0     0       0          0
`
	n := parseNetDev([]byte(dev))
	if n == nil || n.BytesRecv != 1100 || n.PacketsRecv != 11 || n.BytesSent != 2200 || n.PacketsSent != 22 {
		t.Fatalf("got %+v", n)
	}
	if n := parseNetDev([]byte("nothing here\n")); n != nil {
		t.Errorf("garbage: %+v, want nil", n)
	}
}

func TestParseLoadAvg(t *testing.T) {
	if got := parseLoadAvg([]byte("0.50 1.25 2.00 1/234 5678\n")); got != [3]float64{0.5, 1.25, 2} {
		t.Fatalf("got %v", got)
	}
}

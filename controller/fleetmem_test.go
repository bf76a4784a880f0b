package controller_test

import (
	"fmt"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// memClasses is how the Go runtime accounts for this process's memory at
// one moment (runtime/metrics), in bytes.
type memClasses struct {
	rss float64 // VmRSS, as /proc says: Go's memory and the rest (SQLite's C heap)
	// live is the heap the last completed collection found reachable;
	// objects also counts what was allocated since and is not swept yet.
	live, objects float64
	// free is heap the runtime holds for reuse, released what it gave
	// back to the system; stacks the goroutines' stacks; other the
	// runtime's own (GC metadata, other).
	free, released, stacks, other float64
	goal                          float64 // the heap size the next collection is due at
	goroutines                    float64
}

var memSamples = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/memory/classes/total:bytes",
	"/gc/heap/goal:bytes",
	"/sched/goroutines:goroutines",
}

// readMemClasses reads them now.
func readMemClasses() memClasses {
	s := make([]metrics.Sample, len(memSamples))
	for i, name := range memSamples {
		s[i].Name = name
	}
	metrics.Read(s)
	v := func(i int) float64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return float64(s[i].Value.Uint64())
	}
	m := memClasses{live: v(0), objects: v(1), free: v(2), released: v(3), stacks: v(4), goal: v(6), goroutines: v(7)}
	m.other = v(5) - m.objects - m.free - m.released - m.stacks
	m.rss = rssMiB("self", "VmRSS:") * (1 << 20)
	return m
}

func (m memClasses) String() string {
	mib := func(x float64) string { return fmt.Sprintf("%.0f", x/(1<<20)) }
	return fmt.Sprintf("RSS %s MiB: heap live %s, heap objects %s (live and not yet swept), heap free %s (released %s), stacks %s (%d goroutines), runtime other %s, outside Go %s; GC goal %s",
		mib(m.rss), mib(m.live), mib(m.objects), mib(m.free), mib(m.released), mib(m.stacks), int(m.goroutines), mib(m.other),
		mib(m.rss-(m.objects+m.free+m.stacks+m.other)), mib(m.goal))
}

// memWatch samples memClasses every second until its stop is called,
// which returns the sample at the highest resident memory seen and the
// largest live heap.
func memWatch(tb testing.TB) (stop func() (atPeak memClasses, maxLive float64)) {
	tb.Helper()
	var (
		mu      sync.Mutex
		peak    memClasses
		maxLive float64
	)
	sample := func() {
		m := readMemClasses()
		mu.Lock()
		defer mu.Unlock()
		if m.rss >= peak.rss {
			peak = m
		}
		maxLive = max(maxLive, m.live)
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			sample()
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() (memClasses, float64) {
		once.Do(func() { close(quit); <-done })
		mu.Lock()
		defer mu.Unlock()
		return peak, maxLive
	}
}

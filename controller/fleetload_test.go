package controller_test

import (
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// creationTimes are, for each creation of a burst, the moment it was due,
// the moment its client sent it and the moment its answer was read.
type creationTimes struct {
	due, sent, done []time.Time
}

// latency is creation j's latency: from the moment it was due, so that in
// open loop a creation that waited for a free client counts that wait.
func (t creationTimes) latency(j int) time.Duration { return t.done[j].Sub(t.due[j]) }

// service is creation j's time from its send to its answer: what the
// controller took, without the wait for a free client.
func (t creationTimes) service(j int) time.Duration { return t.done[j].Sub(t.sent[j]) }

// lag is how long creation j waited for a free client after it was due.
func (t creationTimes) lag(j int) time.Duration { return t.sent[j].Sub(t.due[j]) }

// byCycle splits the creations' service times in two, sorted: those sent
// while a poll cycle of cs ran (from its start to its end), and the
// others; a poll cycle polls every node at once, so this shows what its
// work does to the creations beside it.
func (t creationTimes) byCycle(cs []pollCycle) (during, between []time.Duration) {
	for j := range t.sent {
		in := false
		for _, c := range cs {
			if !t.sent[j].Before(c.start) && t.sent[j].Before(c.start.Add(c.took)) {
				in = true
				break
			}
		}
		if in {
			during = append(during, t.service(j))
		} else {
			between = append(between, t.service(j))
		}
	}
	slices.Sort(during)
	slices.Sort(between)
	return during, between
}

// creationLoad runs fn(0..n-1), each once, on clients goroutines, in
// order of j, and returns when each was due, sent and answered. It stops
// handing out creations at the first error fn returns and returns that
// error once every client has ended.
//
// rate 0 is the closed loop: a client sends its next creation as soon as
// its last one is answered, so creations are due when they are sent, and
// with c clients the mean latency is c over the rate the controller
// manages (Little's law): queueing and service time cannot be told apart.
//
// rate > 0 is the open loop: creation j is due at start + j/rate, whatever
// the controller does. The next free client waits for that moment and
// sends it; when every client is busy past that moment, the creation is
// sent late, and its latency still runs from the moment it was due, so a
// controller slower than the rate shows as growing latency instead of a
// slower schedule (the coordinated omission a closed loop has). At a rate
// the controller keeps up with, latency is its service time plus the
// queueing the rate makes.
func creationLoad(clients, n int, rate float64, fn func(j int) error) (creationTimes, error) {
	t := creationTimes{due: make([]time.Time, n), sent: make([]time.Time, n), done: make([]time.Time, n)}
	next := make(chan int, n)
	for j := range n {
		next <- j
	}
	close(next)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return first != nil
	}
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for j := range next {
				if failed() {
					return
				}
				if rate > 0 {
					t.due[j] = start.Add(time.Duration(math.Round(float64(j) * float64(time.Second) / rate)))
					time.Sleep(time.Until(t.due[j]))
					t.sent[j] = time.Now()
				} else {
					t.sent[j] = time.Now()
					t.due[j] = t.sent[j]
				}
				err := fn(j)
				t.done[j] = time.Now()
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return t, first
}

// TestCreationLoad holds creationLoad, the load BenchmarkControllerFleet
// puts on the controller, to what its latencies mean: in the closed loop
// a creation is due when it is sent; in the open loop creation j is due
// at start + j/rate whatever the answers take, so a creation sent late
// (every client busy) counts the wait. The work is a sleep, so every
// bound below is a lower bound that holds however slow the machine is.
func TestCreationLoad(t *testing.T) {
	const (
		clients = 2
		n       = 20
		work    = 10 * time.Millisecond
	)
	slow := func(int) error { time.Sleep(work); return nil }

	t.Run("closed loop", func(t *testing.T) {
		ct, err := creationLoad(clients, n, 0, slow)
		if err != nil {
			t.Fatal(err)
		}
		for j := range n {
			if !ct.due[j].Equal(ct.sent[j]) {
				t.Errorf("creation %d: due %v, sent %v: the closed loop sends when due", j, ct.due[j], ct.sent[j])
			}
			if ct.latency(j) < work || ct.latency(j) != ct.service(j) {
				t.Errorf("creation %d: latency %v, service %v: want the same, at least %v", j, ct.latency(j), ct.service(j), work)
			}
		}
	})

	t.Run("open loop faster than the clients", func(t *testing.T) {
		// 1,000 a second offered to two clients that manage 200: the
		// schedule does not wait for them.
		const rate = 1000
		ct, err := creationLoad(clients, n, rate, slow)
		if err != nil {
			t.Fatal(err)
		}
		start := ct.due[0]
		for j := range n {
			if want := start.Add(time.Duration(j) * time.Second / rate); !ct.due[j].Equal(want) {
				t.Errorf("creation %d due at %v, want %v (start + j/rate)", j, ct.due[j].Sub(start), want.Sub(start))
			}
			if ct.sent[j].Before(ct.due[j]) || ct.done[j].Before(ct.sent[j]) {
				t.Errorf("creation %d: due %v, sent %v, done %v: out of order", j, ct.due[j], ct.sent[j], ct.done[j])
			}
			if ct.latency(j) != ct.lag(j)+ct.service(j) {
				t.Errorf("creation %d: latency %v is not lag %v + service %v", j, ct.latency(j), ct.lag(j), ct.service(j))
			}
		}
		// The last creation is sent once the clients have done the 18
		// before it two at a time (9 works, 90 ms), and was due 19 ms
		// after the start: it waited at least 71 ms, and its latency
		// counts that.
		last := n - 1
		if minLag := time.Duration(last/clients)*work - time.Duration(last)*time.Second/rate; ct.lag(last) < minLag || ct.latency(last) < minLag+work {
			t.Errorf("last creation: lag %v, latency %v; want at least %v and %v", ct.lag(last), ct.latency(last), minLag, minLag+work)
		}
	})

	t.Run("open loop slower than the clients", func(t *testing.T) {
		// 100 a second: the clients wait for each creation's moment.
		const rate = 100
		ct, err := creationLoad(clients, 10, rate, func(int) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if took, want := ct.sent[9].Sub(ct.due[0]), 9*time.Second/rate; took < want {
			t.Errorf("10 creations at %d/s sent over %v, want at least %v", rate, took, want)
		}
	})

	t.Run("an error stops the load", func(t *testing.T) {
		boom := errors.New("boom")
		var calls atomic.Int64
		_, err := creationLoad(clients, n, 0, func(j int) error {
			calls.Add(1)
			if j == 3 {
				return boom
			}
			time.Sleep(work)
			return nil
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err %v, want %v", err, boom)
		}
		if c := calls.Load(); c >= n {
			t.Errorf("%d creations ran after the error, want fewer than %d", c, n)
		}
	})
}

// TestCreationTimesByCycle: a creation counts as sent during a poll cycle
// from the cycle's start (included) to its end (excluded), and each side
// keeps its own service times, sorted.
func TestCreationTimesByCycle(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ct := creationTimes{
		sent: []time.Time{at(0), at(100), at(150), at(200), at(300)},
		done: []time.Time{at(5), at(190), at(160), at(207), at(301)},
	}
	ct.due = ct.sent
	during, between := ct.byCycle([]pollCycle{{start: at(100), took: 100 * time.Millisecond}})
	if want := []time.Duration{10 * time.Millisecond, 90 * time.Millisecond}; !slices.Equal(during, want) {
		t.Errorf("during the cycle: %v, want %v (sent at 100 and 150 ms)", during, want)
	}
	if want := []time.Duration{time.Millisecond, 5 * time.Millisecond, 7 * time.Millisecond}; !slices.Equal(between, want) {
		t.Errorf("between cycles: %v, want %v (sent at 0, 200 and 300 ms)", between, want)
	}
}

package tunnel

import (
	"fmt"
	"sync"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/tun"
)

// SetUp brings the device up (true) or down (false). Down keeps the
// private key and every peer with its configuration; it closes the UDP
// socket, so no handshake or packet passes until the device is up again,
// which binds the same port (or, for a tunnel made with Config.Down and
// ListenPort 0, a free one). In TUN mode the kernel interface stays as it
// is; while the device is down a kernel "link up" does not bring it up.
// Setting the state it already has does nothing. Once closed, SetUp
// returns ErrClosed.
func (t *Tunnel) SetUp(up bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("interface %s: %w", t.name, ErrClosed)
	}
	if up == !t.down.Load() {
		return nil
	}
	if up {
		t.down.Store(false)
		if err := t.up(); err != nil {
			t.down.Store(true)
			_ = t.dev.Down() // as it was
			return err
		}
	} else {
		t.down.Store(true)
		t.gate.fence() // an "up" already past the gate is acted on before the Down
		if err := t.dev.Down(); err != nil {
			return fmt.Errorf("interface %s: bringing device down: %w", t.name, err)
		}
	}
	t.log.Info("wireguard device state changed", "up", up)
	return nil
}

// IsUp reports whether the device is up: from construction (unless
// Config.Down) until a SetUp(false).
func (t *Tunnel) IsUp() bool { return !t.down.Load() }

// eventGate is the TUN device wireguard-go is given: it passes the
// device's events on, except "up" while down is set, so that the Tunnel
// alone decides when a device it brought down comes up again. (A netstack
// device announces "up" once when made, which wireguard-go would act on
// whenever it reads it, after a SetUp(false) too.) Its goroutine ends
// when the device's event channel closes, which Close of the device does.
//
// Deciding at the gate is not enough by itself: an "up" that passed the
// gate just before a SetUp(false) may still be in the hands of
// wireguard-go's event worker, which would bring the device up again
// after SetUp's Down (the port seen bound again, in CI). So the gate
// hands an event on under mu, and SetUp(false), once down is set, calls
// fence: it hands the worker an empty event under mu, which the worker
// takes only when it has acted on the one before (it takes one at a
// time); after that no "up" is in flight, and none can pass.
type eventGate struct {
	tun.Device
	events chan tun.Event

	mu     sync.Mutex // held while an event is handed on
	closed bool       // events is closed; guarded by mu
}

func newEventGate(dev tun.Device, down *atomic.Bool) *eventGate {
	g := &eventGate{Device: dev, events: make(chan tun.Event)}
	go func() {
		for e := range dev.Events() {
			g.mu.Lock()
			if down.Load() {
				e &^= tun.EventUp
			}
			if e != 0 {
				g.events <- e
			}
			g.mu.Unlock()
		}
		g.mu.Lock()
		g.closed = true
		close(g.events)
		g.mu.Unlock()
	}()
	return g
}

// fence returns once wireguard-go's event worker has acted on every event
// the gate handed it (see eventGate). The worker reads events until the
// gate closes them, so the empty event is always taken.
func (g *eventGate) fence() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.events <- 0
	}
}

// Events returns the gated events.
func (g *eventGate) Events() <-chan tun.Event { return g.events }

package forward

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/tun"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// outQueueLen is how many packets wait for WireGuard to read them.
const outQueueLen = 256

// statsLogInterval is how often changed counters are logged at debug level.
const statsLogInterval = time.Minute

// errWrapped is returned by a second Wrap.
var errWrapped = errors.New("forwarder already wraps a device")

// Forwarder forwards what peers send beyond the interface: see the package
// documentation. Made by New, it does nothing until Wrap puts it in front
// of a netstack device; Close (or closing the wrapped device) stops it.
type Forwarder struct {
	cfg     Config
	log     *slog.Logger
	own     []netip.Addr   // the interface's own IPs
	hub     []netip.Prefix // the interface's subnets, routed back to the peers
	dnsOn   bool
	resolv  *resolvConf
	s       *stack.Stack
	ep      *linkEndpoint
	stats   counters
	bufSize int
	bufs    sync.Pool // of *[]byte of at least bufSize

	// out carries packets to WireGuard from the netstack beneath, routed
	// between peers, echo replies; the forwarding stack's wait in ep.out.
	out     chan *[]byte
	seg     segmenter // Read's: the stack's packet being cut
	pingSem chan struct{}
	dnsSem  chan struct{}

	ctx    context.Context // done once Close starts
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the Forwarder runs or waits for

	// mu guards inner, closed and open. Once closed is set no goroutine
	// is added to wg and nothing is added to open.
	mu     sync.Mutex
	inner  tun.Device
	closed bool
	open   map[*closerFunc]struct{} // relays and sockets Close must end

	closeOnce sync.Once
	closeErr  error
}

// closerFunc makes a function an io.Closer; its address identifies it.
type closerFunc func()

func (c *closerFunc) Close() error { (*c)(); return nil }

// New makes a Forwarder and its forwarding stack.
func New(cfg Config) (*Forwarder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s, ep, err := newStack(cfg.MTU)
	if err != nil {
		return nil, err
	}
	f := &Forwarder{
		cfg:     cfg,
		log:     cfg.Logger,
		dnsOn:   cfg.Resolvers == nil || len(cfg.Resolvers) > 0,
		resolv:  newResolvConf(cfg.ResolvConf, cfg.Resolvers),
		s:       s,
		ep:      ep,
		bufSize: max(cfg.MTU, 1500),
		out:     make(chan *[]byte, outQueueLen),
		pingSem: make(chan struct{}, maxPingsInFlight),
		dnsSem:  make(chan struct{}, maxDNSInFlight),
		open:    make(map[*closerFunc]struct{}),
	}
	f.bufs.New = func() any { b := make([]byte, f.bufSize); return &b }
	f.ctx, f.cancel = context.WithCancel(context.Background())
	for _, p := range cfg.Addresses {
		f.own = append(f.own, p.Addr())
		if p.Bits() < p.Addr().BitLen() {
			f.hub = append(f.hub, p.Masked())
		}
	}
	tcpFwd := tcp.NewForwarder(s, 0, cfg.MaxTCPConns, f.handleTCP)
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tcpFwd.HandlePacket)
	udpFwd := udp.NewForwarder(s, f.handleUDP)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, udpFwd.HandlePacket)
	return f, nil
}

// Wrap returns the device WireGuard should read and write in place of
// dev, the netstack device of the interface, and starts forwarding. From
// then on the Forwarder owns dev: closing the returned device closes the
// Forwarder and dev. It can be called once; its signature fits
// tunnel.NewNetstackWith.
func (f *Forwarder) Wrap(dev tun.Device) (tun.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, errors.New("forwarder is closed")
	}
	if f.inner != nil {
		return nil, errWrapped
	}
	f.inner = dev
	f.wg.Add(2)
	go func() { defer f.wg.Done(); f.pumpInner(dev) }()
	go func() { defer f.wg.Done(); f.logStats() }()
	f.log.Debug("forwarding on", "addresses", f.cfg.Addresses, "hub", f.hub, "policy", f.cfg.Policy,
		"max_tcp_conns", f.cfg.MaxTCPConns, "max_udp_flows", f.cfg.MaxUDPFlows,
		"tcp_idle_timeout", f.cfg.TCPIdleTimeout, "udp_idle_timeout", f.cfg.UDPIdleTimeout, "dns", f.dnsOn)
	return &device{Device: dev, f: f}, nil
}

// Stats returns the counters so far.
func (f *Forwarder) Stats() Stats { return f.stats.snapshot() }

// Close ends every forwarded connection and flow, stops the forwarding
// stack and closes the wrapped device, and waits for all of it. It is
// idempotent.
func (f *Forwarder) Close() error {
	f.closeOnce.Do(func() {
		f.mu.Lock()
		f.closed = true
		open := make([]*closerFunc, 0, len(f.open))
		for c := range f.open {
			open = append(open, c)
		}
		inner := f.inner
		f.mu.Unlock()

		f.cancel()
		// The NIC first: a sender waiting for room in its queue (which
		// nobody reads once WireGuard stops) gives up, so ending the
		// relays, which sends their resets, cannot wait for it.
		f.ep.Close()
		for _, c := range open {
			c.Close()
		}
		if inner != nil {
			f.closeErr = inner.Close()
		}
		// Closing the stack also ends handshakes still in progress, on
		// which a TCP handler may wait.
		f.s.Close()
		f.wg.Wait()
		f.s.Wait()
		f.log.Debug("forwarding off", "stats", f.Stats())
	})
	return f.closeErr
}

// enter counts a goroutine that Close must wait for, or reports false once
// Close has begun. The caller calls f.wg.Done when it ends.
func (f *Forwarder) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.wg.Add(1)
	return true
}

// spawn runs fn on a goroutine Close waits for, or reports false once
// Close has begun.
func (f *Forwarder) spawn(fn func()) bool {
	if !f.enter() {
		return false
	}
	go func() {
		defer f.wg.Done()
		fn()
	}()
	return true
}

// track registers c for Close to call; untrack forgets it. ok is false
// once Close has begun, and then c is not registered.
func (f *Forwarder) track(c io.Closer) (untrack func(), ok bool) {
	fn := closerFunc(func() { c.Close() })
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return func() {}, false
	}
	f.open[&fn] = struct{}{}
	return func() {
		f.mu.Lock()
		delete(f.open, &fn)
		f.mu.Unlock()
	}, true
}

func (f *Forwarder) isOwn(a netip.Addr) bool {
	for _, o := range f.own {
		if o == a {
			return true
		}
	}
	return false
}

func (f *Forwarder) inHub(a netip.Addr) bool {
	for _, p := range f.hub {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// getBuf returns a pooled buffer of length n.
func (f *Forwarder) getBuf(n int) *[]byte {
	bp := f.bufs.Get().(*[]byte)
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	*bp = (*bp)[:n]
	return bp
}

func (f *Forwarder) putBuf(bp *[]byte) { f.bufs.Put(bp) }

// send queues a packet for WireGuard, waiting for room; false once closed.
func (f *Forwarder) send(bp *[]byte) bool {
	select {
	case f.out <- bp:
		return true
	case <-f.ctx.Done():
		f.putBuf(bp)
		return false
	}
}

// trySend queues a packet for WireGuard if there is room, else drops it.
func (f *Forwarder) trySend(bp *[]byte) bool {
	select {
	case f.out <- bp:
		return true
	default:
		f.putBuf(bp)
		f.stats.dropped.Add(1)
		return false
	}
}

// pumpInner moves the packets of the netstack beneath to WireGuard.
func (f *Forwarder) pumpInner(dev tun.Device) {
	bufs, sizes := make([][]byte, 1), make([]int, 1)
	for {
		bp := f.getBuf(f.bufSize)
		bufs[0] = *bp
		n, err := dev.Read(bufs, sizes, 0)
		if err != nil {
			f.putBuf(bp)
			return
		}
		if n == 0 {
			f.putBuf(bp)
			continue
		}
		*bp = (*bp)[:sizes[0]]
		if !f.send(bp) {
			return
		}
	}
}

// logStats logs the counters at debug level when they changed.
func (f *Forwarder) logStats() {
	if !f.log.Enabled(f.ctx, slog.LevelDebug) {
		return
	}
	t := time.NewTicker(statsLogInterval)
	defer t.Stop()
	var last Stats
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-t.C:
			if s := f.Stats(); s != last {
				f.log.Debug("forwarding stats", "stats", s)
				last = s
			}
		}
	}
}

package tunnel

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/container"
)

// ErrInvalidConfig is wrapped by every error about a caller's input: a
// Config the constructors refuse, or a peer change that WriteConfig (and so
// Tunnel.Configure) cannot express or the device would refuse.
var ErrInvalidConfig = errors.New("invalid configuration")

// ErrExists is returned by NewTUN when a network interface of that name
// already exists.
var ErrExists = errors.New("interface already exists")

// MaxPeers is the most peers a wireguard-go device holds; it refuses more
// ("too many peers").
const MaxPeers = device.MaxPeers

// ErrClosed is returned by Configure and Peers once the Tunnel is closed.
var ErrClosed = errors.New("tunnel closed")

// Tunnel is one running wireguard-go device. Its methods are safe for
// concurrent use.
type Tunnel struct {
	name  string
	mode  container.Mode // container.ModeTUN (NewTUN) or container.ModeNetstack (NewNetstack)
	pub   wgtypes.Key
	port  int
	addrs []netip.Prefix
	mtu   int
	tnet  *netstack.Net // nil in TUN mode
	log   *slog.Logger
	dlog  *deviceLog // the device's logger, stopped by shutdown
	dev   *device.Device
	gate  *eventGate // the TUN device as dev sees it (updown.go)

	// mu serializes every change this package makes to the device: each
	// Configure is one IpcSet under mu, so batches never interleave. Peers
	// holds it too, so a read sees whole batches. It also guards closed
	// and rec. (Changes made through the UAPI socket by wg(8) are
	// serialized by the device itself, not by mu.)
	//
	// Lock order: callers may hold their own lock while calling Configure
	// or Peers (the agent holds iface.mu); mu comes after it. Under mu the
	// device takes its own locks and logs, taking deviceLog.mu for
	// reading; shutdown releases mu before it stops the log.
	mu     sync.Mutex
	closed bool
	// down is set while the device is down by Config.Down or SetUp(false);
	// SetUp changes it under mu, the event gate reads it.
	down atomic.Bool
	rec  *record // what Configure has given the device, to undo a failed batch

	uapi      io.Closer // the UAPI socket server; nil in netstack mode
	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
}

// newTunnel makes the device on tdev and gives it its private key and
// listen port. The device is still down and no goroutine of the Tunnel
// runs yet: the caller finishes with up and then start, or with abort.
func newTunnel(cfg Config, mode container.Mode, tdev tun.Device, bind conn.Bind) (*Tunnel, error) {
	log := cfg.Logger.With("iface", cfg.Name, "mode", string(mode))
	dlog := newDeviceLog(log)
	t := &Tunnel{
		name:  cfg.Name,
		mode:  mode,
		pub:   cfg.PrivateKey.PublicKey(),
		port:  cfg.ListenPort,
		addrs: cfg.Addresses,
		mtu:   cfg.MTU,
		log:   log,
		dlog:  dlog,
		rec:   newRecord(),
		done:  make(chan struct{}),
	}
	t.down.Store(cfg.Down)
	t.gate = newEventGate(tdev, &t.down)
	t.dev = device.NewDevice(t.gate, bind, dlog.logger())
	var set strings.Builder
	if err := WriteConfig(&set, wgtypes.Config{PrivateKey: &cfg.PrivateKey, ListenPort: &cfg.ListenPort}); err != nil {
		t.dev.Close()
		dlog.stop()
		return nil, fmt.Errorf("interface %s: %w", cfg.Name, err)
	}
	if err := t.dev.IpcSet(set.String()); err != nil {
		t.dev.Close()
		dlog.stop()
		return nil, fmt.Errorf("interface %s: setting private key and listen port: %w", cfg.Name, err)
	}
	return t, nil
}

// up brings the device up (which binds the UDP port) and records the port
// actually bound; it does nothing while the Tunnel is down (Config.Down).
func (t *Tunnel) up() error {
	if t.down.Load() {
		return nil
	}
	if err := t.dev.Up(); err != nil {
		return fmt.Errorf("interface %s: bringing device up (UDP port %d): %w", t.name, t.port, err)
	}
	s, err := t.ipcGet()
	if err != nil {
		return fmt.Errorf("interface %s: reading device state: %w", t.name, err)
	}
	st, err := parseDeviceText(s)
	if err != nil {
		return fmt.Errorf("interface %s: reading device state: %w", t.name, err)
	}
	if st.ListenPort == 0 {
		return fmt.Errorf("interface %s: device is up but reports no listen port", t.name)
	}
	t.port = st.ListenPort
	return nil
}

// start launches the goroutine that owns the Tunnel's shutdown: it waits
// for the device to stop, whether through Close or on its own (a TUN
// interface deleted from outside), releases everything and closes done.
func (t *Tunnel) start() {
	go func() {
		<-t.dev.Wait()
		t.mu.Lock()
		byClose := t.closed
		t.mu.Unlock()
		if !byClose {
			t.log.Warn("wireguard device stopped on its own")
		}
		t.closeOnce.Do(t.shutdown)
		close(t.done)
	}()
	t.log.Info("wireguard interface up", "public_key", t.pub.String(), "listen_port", t.port, "mtu", t.mtu)
}

// abort releases a Tunnel whose start was never called.
func (t *Tunnel) abort() {
	t.closeOnce.Do(t.shutdown)
	close(t.done)
}

// shutdown stops the UAPI server, then the device (which closes the TUN
// device and the UDP sockets). It runs once.
func (t *Tunnel) shutdown() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	var errs []error
	if t.uapi != nil {
		if err := t.uapi.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing UAPI socket: %w", err))
		}
	}
	t.dev.Close()
	t.dlog.stop()
	if len(errs) > 0 {
		t.closeErr = fmt.Errorf("closing interface %s: %w", t.name, errors.Join(errs...))
	}
	t.log.Info("wireguard interface closed")
}

// Name returns the interface name.
func (t *Tunnel) Name() string { return t.name }

// Mode returns the data plane the Tunnel was made with: container.ModeTUN
// or container.ModeNetstack.
func (t *Tunnel) Mode() container.Mode { return t.mode }

// PublicKey returns the interface's public key.
func (t *Tunnel) PublicKey() wgtypes.Key { return t.pub }

// ListenPort returns the UDP port the device bound at construction: the
// configured one, or the one the kernel picked when 0 was configured. A
// later change made through the UAPI socket is not reflected.
func (t *Tunnel) ListenPort() int { return t.port }

// Addresses returns a copy of the configured interface addresses.
func (t *Tunnel) Addresses() []netip.Prefix { return slices.Clone(t.addrs) }

// MTU returns the interface MTU.
func (t *Tunnel) MTU() int { return t.mtu }

// Net returns the user-space network stack to dial and listen through the
// tunnel; nil in TUN mode, where the kernel's own sockets do that.
func (t *Tunnel) Net() *netstack.Net { return t.tnet }

// Peers returns every peer of the device as the UAPI reports it, sorted by
// public key. Preshared keys are reported (zero when none); callers that
// expose peers must drop them.
func (t *Tunnel) Peers() ([]wgtypes.Peer, error) {
	s, err := t.readPeers()
	if err != nil {
		return nil, err
	}
	st, err := parseDeviceText(s)
	if err != nil {
		return nil, fmt.Errorf("interface %s: reading peers: %w", t.name, err)
	}
	slices.SortFunc(st.Peers, func(a, b wgtypes.Peer) int {
		return bytes.Compare(a.PublicKey[:], b.PublicKey[:])
	})
	return st.Peers, nil
}

// EachPeer reads the device's peers as Peers does, with one UAPI get, and
// calls fn for each in the order the device reports them (unspecified),
// without building them first: for readers that turn the peers into
// something else in one pass. fn is called without the Tunnel's lock held
// and must not keep v or its AllowedIPs. An error of fn stops the reading
// and is returned as it is.
func (t *Tunnel) EachPeer(fn func(v *PeerView) error) error {
	s, err := t.readPeers()
	if err != nil {
		return err
	}
	var st DeviceState
	var fnErr bool
	err = scanDeviceText(s, &st, func(v *PeerView) error {
		if err := fn(v); err != nil {
			fnErr = true
			return err
		}
		return nil
	})
	if err != nil && !fnErr {
		return fmt.Errorf("interface %s: reading peers: %w", t.name, err)
	}
	return err
}

// readPeers is one UAPI get under mu, which a read shares with Configure
// so that it sees whole batches.
func (t *Tunnel) readPeers() (string, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return "", fmt.Errorf("interface %s: reading peers: %w", t.name, ErrClosed)
	}
	s, err := t.ipcGet()
	t.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("interface %s: reading peers: %w", t.name, err)
	}
	return s, nil
}

// ReadPeerText appends the device's reply to a UAPI get, as it wrote it,
// to buf[:0] and returns it: for a reader that keeps its buffer from one
// read to the next (3 MB for 10k peers, garbage after each read
// otherwise), and parses it with EachPeerInText. It reads under the lock
// Configure holds, as EachPeer does.
func (t *Tunnel) ReadPeerText(buf []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return buf[:0], fmt.Errorf("interface %s: reading peers: %w", t.name, ErrClosed)
	}
	w := appendWriter{b: buf[:0]}
	if err := t.dev.IpcGetOperation(&w); err != nil {
		return w.b, fmt.Errorf("interface %s: reading peers: %w", t.name, err)
	}
	return w.b, nil
}

// appendWriter appends what is written to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// ipcGet is the device's IpcGet without its cost of growing a buffer from
// nothing: the device writes its whole reply in one Write, which
// exactWriter copies into a string of exactly that size.
func (t *Tunnel) ipcGet() (string, error) {
	var w exactWriter
	if err := t.dev.IpcGetOperation(&w); err != nil {
		return "", err
	}
	return w.b.String(), nil
}

// exactWriter is a strings.Builder that sizes itself to each write.
type exactWriter struct{ b strings.Builder }

func (w *exactWriter) Write(p []byte) (int, error) {
	w.b.Grow(len(p))
	return w.b.Write(p)
}

// Configure applies changes, in order, as one UAPI set operation under the
// device mutex. It never replaces the whole peer set, so peers not named
// keep their sessions and counters. See WriteConfig for the meaning of each
// PeerConfig field.
//
// Changes apply in full or not at all. Input errors wrap ErrInvalidConfig
// and change nothing; that includes a peer whose key is the interface's
// own, which the device would silently ignore. If the device refuses a
// change part-way, every peer the batch touched is put back as Configure
// had left it and the device's error is returned; should
// the device refuse that too, both errors are returned and the peers are as
// the device left them. An empty changes does nothing. Once closed,
// Configure returns ErrClosed.
func (t *Tunnel) Configure(changes []wgtypes.PeerConfig) error {
	for i, c := range changes {
		if c.PublicKey == t.pub {
			return fmt.Errorf("interface %s: peer %d: %w: public key is the interface's own", t.name, i, ErrInvalidConfig)
		}
	}
	var b strings.Builder
	if err := WriteConfig(&b, wgtypes.Config{Peers: changes}); err != nil {
		return fmt.Errorf("interface %s: %w", t.name, err)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("interface %s: configuring peers: %w", t.name, ErrClosed)
	}
	if len(changes) == 0 {
		return nil
	}
	j := t.rec.apply(changes)
	if err := t.dev.IpcSet(b.String()); err != nil {
		err = fmt.Errorf("interface %s: applying %d peer changes: %w", t.name, len(changes), err)
		undo := t.rec.undo(j)
		t.rec.revert(j)
		if rerr := t.rollback(undo); rerr != nil {
			t.log.Error("peer changes failed part-way and could not be rolled back", "changes", len(changes), "err", err, "rollback_err", rerr)
			return errors.Join(err, fmt.Errorf("interface %s: rolling back: %w", t.name, rerr))
		}
		t.log.Warn("peer changes failed part-way and were rolled back", "changes", len(changes), "err", err)
		return err
	}
	t.log.Debug("peers configured", "changes", len(changes))
	return nil
}

// rollback applies undo, the changes that put the peers of a failed batch
// back. The caller holds mu.
func (t *Tunnel) rollback(undo []wgtypes.PeerConfig) error {
	var b strings.Builder
	if err := WriteConfig(&b, wgtypes.Config{Peers: undo}); err != nil {
		return err
	}
	if err := t.dev.IpcSet(b.String()); err != nil {
		return fmt.Errorf("applying the previous peer configuration: %w", err)
	}
	return nil
}

// Close stops the device and everything the Tunnel owns (the UAPI socket
// and its connections, the TUN interface, the UDP sockets) and waits for
// its goroutines to finish. It is idempotent: later calls wait the same
// way and return the same error.
func (t *Tunnel) Close() error {
	t.closeOnce.Do(t.shutdown)
	<-t.done
	return t.closeErr
}

// Done returns a channel that is closed once the device has stopped and
// the Tunnel has released everything, whether through Close or because
// the device stopped on its own.
func (t *Tunnel) Done() <-chan struct{} { return t.done }

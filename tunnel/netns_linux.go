package tunnel

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"

	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"
)

// nsPin keeps what wireguard-go does later, from goroutines of its own, in
// the network namespace the constructor ran in.
//
// Sockets and interface lookups belong to the namespace of the calling
// thread, and wireguard-go opens (and reopens) its UDP sockets and reads
// the TUN MTU from whichever goroutine gets there: the constructor, its TUN
// event worker, a UAPI client changing the port. When a constructor runs on
// a thread that is in another namespace than the threads running ordinary
// goroutines (its caller locked the OS thread and switched), those calls
// are pinned to the constructor's namespace. A nil *nsPin pins nothing.
type nsPin struct {
	// mu is held for reading while a call runs in ns, and for writing by
	// close: wireguard-go's TUN event worker outlives device.Close and
	// may still ask for the MTU while the Tunnel shuts down.
	mu     sync.RWMutex
	ns     netns.NsHandle
	closed bool
}

// pinNetns returns a pin to the calling thread's namespace if it differs
// from the common one, else nil.
func pinNetns(log *slog.Logger) *nsPin {
	here, err := netns.Get()
	if err != nil {
		log.Warn("cannot read this thread's network namespace; not pinning sockets to it", "err", err)
		return nil
	}
	common, err := commonNetns()
	if err != nil {
		here.Close()
		log.Warn("cannot read the common network namespace; not pinning sockets", "err", err)
		return nil
	}
	defer common.Close()
	if here.Equal(common) {
		here.Close()
		return nil
	}
	log.Debug("constructor runs in another network namespace than the process; pinning the device to it", "netns", here.String())
	return &nsPin{ns: here}
}

// commonNetns returns the network namespace of the threads that run
// ordinary goroutines: it asks from a fresh goroutine on an unlocked
// thread, which is where wireguard-go's goroutines run. (The thread group
// leader, /proc/PID/ns/net, is no reference: it may itself be a locked
// thread that was switched.)
func commonNetns() (netns.NsHandle, error) {
	type result struct {
		ns  netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		ns, err := netns.Get()
		ch <- result{ns, err}
	}()
	r := <-ch
	return r.ns, r.err
}

// run calls fn on a thread in the pinned namespace and waits for it. Once
// the pin is closed it calls nothing and returns net.ErrClosed.
func (p *nsPin) run(fn func()) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return fmt.Errorf("network namespace pin: %w", net.ErrClosed)
	}
	errc := make(chan error, 1)
	go func() {
		// The thread is locked and never unlocked: when this goroutine
		// returns, the runtime retires the thread instead of letting
		// another goroutine run in a namespace it did not ask for.
		runtime.LockOSThread()
		if err := netns.Set(p.ns); err != nil {
			errc <- fmt.Errorf("entering network namespace %s: %w", p.ns, err)
			return
		}
		fn()
		errc <- nil
	}()
	return <-errc
}

// bind returns b, pinned.
func (p *nsPin) bind(b conn.Bind) conn.Bind {
	if p == nil {
		return b
	}
	return &nsBind{Bind: b, pin: p}
}

// tun returns d, pinned.
func (p *nsPin) tun(d tun.Device) tun.Device {
	if p == nil {
		return d
	}
	return &nsTUN{Device: d, pin: p}
}

// close releases the namespace handle once the device is closed, waiting
// for calls in flight.
func (p *nsPin) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		p.ns.Close()
	}
}

// nsBind opens its sockets in the pinned namespace. wireguard-go only
// enables its sticky-socket route listener for a bare *conn.StdNetBind, so
// a pinned device goes without it: cached source addresses are refreshed
// by the normal roaming logic instead.
type nsBind struct {
	conn.Bind
	pin *nsPin
}

func (b *nsBind) Open(port uint16) (fns []conn.ReceiveFunc, actual uint16, err error) {
	if perr := b.pin.run(func() { fns, actual, err = b.Bind.Open(port) }); perr != nil {
		return nil, 0, perr
	}
	return fns, actual, err
}

// nsTUN looks up the MTU (an ioctl by interface name) in the pinned
// namespace.
type nsTUN struct {
	tun.Device
	pin *nsPin
}

func (d *nsTUN) MTU() (mtu int, err error) {
	if perr := d.pin.run(func() { mtu, err = d.Device.MTU() }); perr != nil {
		return 0, perr
	}
	return mtu, err
}

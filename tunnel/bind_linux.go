package tunnel

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/conn"
)

// newBind returns the UDP bind for a new device, and a func that releases
// it once the device is closed.
//
// Sockets belong to the network namespace of the thread that opens them,
// and wireguard-go opens (and reopens) its UDP sockets from whichever
// goroutine brings the device up: the constructor, its TUN event worker, a
// UAPI client changing the port. When the constructor runs on a thread that
// is in another namespace than the process (the caller locked its OS
// thread and switched), the bind is wrapped so its sockets are always
// opened in the constructor's namespace.
func newBind(log *slog.Logger) (conn.Bind, func()) {
	bind := conn.NewDefaultBind()
	here, err := netns.Get()
	if err != nil {
		log.Warn("cannot read this thread's network namespace; UDP sockets follow the opening thread", "err", err)
		return bind, func() {}
	}
	proc, err := netns.GetFromPid(os.Getpid())
	if err != nil {
		here.Close()
		log.Warn("cannot read the process's network namespace; UDP sockets follow the opening thread", "err", err)
		return bind, func() {}
	}
	defer proc.Close()
	if here.Equal(proc) {
		here.Close()
		return bind, func() {}
	}
	log.Debug("constructor runs in another network namespace than the process; pinning UDP sockets to it", "netns", here.String())
	return &nsBind{Bind: bind, ns: here}, func() { here.Close() }
}

// nsBind is a conn.Bind whose sockets are opened in network namespace ns.
// wireguard-go only enables its sticky-socket route listener for a bare
// *conn.StdNetBind, so a wrapped bind goes without it: cached source
// addresses are refreshed by the normal roaming logic instead.
type nsBind struct {
	conn.Bind
	ns netns.NsHandle
}

func (b *nsBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	type result struct {
		fns  []conn.ReceiveFunc
		port uint16
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread is locked and never unlocked: when this goroutine
		// returns, the runtime retires the thread instead of letting
		// another goroutine run in a namespace it did not ask for.
		runtime.LockOSThread()
		if err := netns.Set(b.ns); err != nil {
			ch <- result{err: fmt.Errorf("entering network namespace %s: %w", b.ns, err)}
			return
		}
		fns, p, err := b.Bind.Open(port)
		ch <- result{fns, p, err}
	}()
	r := <-ch
	return r.fns, r.port, r.err
}

package tunnel

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/wgfleet/wgfleet/container"
)

// NewTUN starts a device on a new kernel TUN interface cfg.Name, gives it
// cfg.Addresses and cfg.MTU and sets it up, all over netlink, and serves the
// UAPI socket <UAPIDir>/<Name>.sock so that wg(8) and wgctrl can read and
// change it. It needs CAP_NET_ADMIN and /dev/net/tun. Closing the Tunnel
// deletes the interface and the socket.
//
// The interface and the UDP sockets live in the network namespace of the
// process, which must be one for all its threads: wireguard-go reopens its
// sockets and reads the MTU later, from goroutines of its own. To run a
// Tunnel in another namespace, start the program there (ip netns exec). The
// UAPI socket is a file, outside any network namespace.
func NewTUN(cfg Config) (*Tunnel, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := netlink.LinkByName(cfg.Name); err == nil {
		return nil, fmt.Errorf("interface %s: %w", cfg.Name, ErrExists)
	} else if !errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil, fmt.Errorf("interface %s: looking up link: %w", cfg.Name, err)
	}

	tdev, err := tun.CreateTUN(cfg.Name, cfg.MTU)
	if err != nil {
		return nil, fmt.Errorf("interface %s: creating TUN device: %w", cfg.Name, err)
	}
	link, err := configureLink(cfg)
	if err != nil {
		tdev.Close()
		return nil, err
	}

	t, err := newTunnel(cfg, container.ModeTUN, tdev, conn.NewDefaultBind())
	if err != nil {
		return nil, err
	}

	// The TUN event worker brings the device up too once the link is up;
	// whichever comes first binds, the other is a no-op.
	if err := netlink.LinkSetUp(link); err != nil {
		t.abort()
		return nil, fmt.Errorf("interface %s: setting link up: %w", cfg.Name, err)
	}
	if err := t.up(); err != nil {
		t.abort()
		return nil, err
	}

	ln, err := listenUAPI(cfg.UAPIDir, cfg.Name)
	if err != nil {
		t.abort()
		return nil, fmt.Errorf("interface %s: %w", cfg.Name, err)
	}
	t.uapi = serveUAPI(ln, t.dev.IpcHandle, t.log)
	t.start()
	return t, nil
}

// configureLink sets the MTU (if CreateTUN did not already) and the
// addresses of the new link. IPv6 addresses skip duplicate address
// detection: nothing else can be on a point-to-point tunnel link, and DAD
// would leave them unusable for a second or more.
func configureLink(cfg Config) (netlink.Link, error) {
	link, err := netlink.LinkByName(cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: looking up new link: %w", cfg.Name, err)
	}
	if link.Attrs().MTU != cfg.MTU {
		if err := netlink.LinkSetMTU(link, cfg.MTU); err != nil {
			return nil, fmt.Errorf("interface %s: setting MTU %d: %w", cfg.Name, cfg.MTU, err)
		}
	}
	for _, p := range cfg.Addresses {
		addr := &netlink.Addr{IPNet: &net.IPNet{
			IP:   p.Addr().AsSlice(),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}}
		if p.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return nil, fmt.Errorf("interface %s: adding address %v: %w", cfg.Name, p, err)
		}
	}
	return link, nil
}

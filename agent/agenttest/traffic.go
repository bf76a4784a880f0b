package agenttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/tunnel"
)

// Exchange sends real WireGuard traffic as one of the agent's peers: it
// opens a client tunnel (its own netstack) with the peer's private key and
// address, points it at the agent's interface, sends size bytes to a TCP
// service inside the agent's netstack (on Address), which sends as many
// back, and closes the tunnel. The agent's counters of that peer grow by
// a little more than size each way. It fails when the exchange does not
// complete within timeout: when the agent does not have the peer, for
// one. Calls on one agent must not overlap.
func (a *Agent) Exchange(key wgtypes.Key, addr netip.Addr, size int, timeout time.Duration) error {
	server := a.Tunnel(a.Iface)
	client, err := tunnel.NewNetstack(tunnel.Config{Name: "client0", PrivateKey: key,
		Addresses: []netip.Prefix{netip.PrefixFrom(addr, addr.BitLen())}})
	if err != nil {
		return fmt.Errorf("client tunnel: %w", err)
	}
	defer client.Close()
	pool := a.Address.Masked()
	ep := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: server.ListenPort()}
	if err := client.Configure([]wgtypes.PeerConfig{{PublicKey: server.PublicKey(), Endpoint: ep,
		AllowedIPs: []net.IPNet{{IP: pool.Addr().AsSlice(), Mask: net.CIDRMask(pool.Bits(), pool.Addr().BitLen())}}}}); err != nil {
		return fmt.Errorf("client tunnel: %w", err)
	}
	ln, err := server.Net().ListenTCP(&net.TCPAddr{IP: a.Address.Addr().AsSlice()})
	if err != nil {
		return fmt.Errorf("service in the agent's netstack: %w", err)
	}
	defer ln.Close()
	deadline := time.Now().Add(timeout)
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		_ = c.SetDeadline(deadline)
		n, _ := io.Copy(io.Discard, c)
		_, _ = io.Copy(c, io.LimitReader(rand.Reader, n))
		got <- n
	}()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	conn, err := client.Net().DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return fmt.Errorf("dialing through the tunnel: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	payload := make([]byte, size)
	_, _ = rand.Read(payload)
	if _, err := io.Copy(conn, bytes.NewReader(payload)); err != nil {
		return fmt.Errorf("sending through the tunnel: %w", err)
	}
	if err := conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		return fmt.Errorf("closing the sending side: %w", err)
	}
	back, err := io.Copy(io.Discard, conn)
	if err != nil || back != int64(size) {
		return fmt.Errorf("got %d bytes back (%v), want %d", back, err, size)
	}
	select {
	case n := <-got:
		if n != int64(size) {
			return fmt.Errorf("the service got %d bytes, %d were sent", n, size)
		}
	case <-ctx.Done():
		return errors.New("the exchange timed out")
	}
	return nil
}

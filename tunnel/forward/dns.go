package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
)

// dnsHeaderLen is the fixed header of a DNS message.
const dnsHeaderLen = 12

// serveDNS answers the DNS queries of one UDP flow from a peer to the
// interface's address, each by asking the host's resolvers, until the
// flow has been quiet for a while. Queries in flight are bounded; one
// beyond the bound goes unanswered (the client retries).
func (f *Forwarder) serveDNS(peer *gonet.UDPConn, src netip.AddrPort) {
	untrack, ok := f.track(peer)
	defer peer.Close()
	if !ok {
		return
	}
	defer untrack()
	var wg sync.WaitGroup
	defer wg.Wait()
	buf := make([]byte, maxDatagram)
	for {
		_ = peer.SetReadDeadline(time.Now().Add(dnsIdleTimeout))
		n, err := peer.Read(buf)
		if err != nil {
			return
		}
		if n < dnsHeaderLen {
			f.stats.dropped.Add(1)
			continue
		}
		f.stats.dnsQueries.Add(1)
		select {
		case f.dnsSem <- struct{}{}:
		default:
			f.stats.dnsFailed.Add(1)
			f.log.Debug("DNS query dropped: too many in flight", "src", src, "max", maxDNSInFlight)
			continue
		}
		q := bytes.Clone(buf[:n])
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-f.dnsSem }()
			resp, err := f.exchange(f.ctx, q)
			if err != nil {
				f.stats.dnsFailed.Add(1)
				f.log.Debug("DNS query failed", "src", src, "err", err)
				return
			}
			_, _ = peer.Write(resp)
		}()
	}
}

// exchange sends a DNS query over UDP to each resolver in turn until one
// answers it (a reply with the query's ID), within dnsServerTimeout each
// and dnsQueryTimeout in all.
func (f *Forwarder) exchange(ctx context.Context, q []byte) ([]byte, error) {
	servers := f.resolv.servers()
	if len(servers) == 0 {
		return nil, errors.New("no resolver (no nameserver in " + f.cfg.ResolvConf + ")")
	}
	ctx, cancel := context.WithTimeout(ctx, dnsQueryTimeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		resp, err := f.exchangeOne(ctx, s, q)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%v: %w", s, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (f *Forwarder) exchangeOne(ctx context.Context, server netip.AddrPort, q []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, dnsServerTimeout)
	defer cancel()
	c, err := f.cfg.Dial(ctx, "udp", server.String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := c.Write(q); err != nil {
		return nil, err
	}
	buf := make([]byte, maxDatagram)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if n >= dnsHeaderLen && buf[0] == q[0] && buf[1] == q[1] {
			return bytes.Clone(buf[:n]), nil
		}
	}
}

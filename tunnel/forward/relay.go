package forward

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// tcpCopyBuf is the copy buffer of each direction of a TCP relay.
const tcpCopyBuf = 32 << 10

// maxDatagram is the largest UDP payload relayed.
const maxDatagram = 65535

// end is one side of a relay: a connection and how to abort it (reset,
// for TCP) rather than close it.
type end struct {
	net.Conn
	abort func()
}

// hostEnd wraps a host connection; a TCP one is aborted with a reset.
func hostEnd(c net.Conn) end {
	return end{Conn: c, abort: func() {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}}
}

// relay copies between the peer's side and the host's side until both
// are done, then closes both, and reports whether it ended by idleness.
//
// For a stream (TCP) an EOF on one side is passed on as a half-close of
// the other, so request/response protocols that close their sending side
// first keep working; any other error, the idle timeout, or Close aborts
// both sides at once. For datagrams (UDP) any error but ECONNREFUSED (an
// ICMP port unreachable from the destination) ends the flow. idle is the
// longest time without data in either direction.
func (f *Forwarder) relay(peer, host end, idle time.Duration, stream bool) (idled bool) {
	var once sync.Once
	abort := func() {
		once.Do(func() {
			peer.abort()
			host.abort()
		})
	}
	untrack, ok := f.track(closerOf(abort))
	if !ok {
		abort()
		return false
	}
	defer untrack()

	// The watchdog fires every idle at most and aborts once nothing moved
	// for idle; copies only store a timestamp.
	start := time.Now()
	var last atomic.Int64 // nanoseconds since start of the last data
	var idleHit atomic.Bool
	var tmu sync.Mutex
	tmu.Lock()
	var timer *time.Timer
	timer = time.AfterFunc(idle, func() {
		tmu.Lock()
		defer tmu.Unlock()
		quiet := time.Since(start) - time.Duration(last.Load())
		if quiet >= idle {
			idleHit.Store(true)
			abort()
			return
		}
		timer.Reset(idle - quiet)
	})
	tmu.Unlock()
	defer func() {
		tmu.Lock()
		timer.Stop()
		tmu.Unlock()
	}()
	touch := func() { last.Store(int64(time.Since(start))) }

	copyOne := func(dst, src end) {
		size := tcpCopyBuf
		if !stream {
			size = maxDatagram
		}
		buf := make([]byte, size)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				touch()
				if _, werr := dst.Write(buf[:n]); werr != nil && (stream || !isRefused(werr)) {
					abort()
					return
				}
			}
			switch {
			case err == nil:
			case stream && errors.Is(err, io.EOF):
				closeWrite(dst)
				return
			case !stream && isRefused(err):
			default:
				abort()
				return
			}
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyOne(host, peer)
	}()
	copyOne(peer, host)
	<-done
	once.Do(func() { // both directions ended cleanly
		peer.Close()
		host.Close()
	})
	return idleHit.Load()
}

func closerOf(fn func()) io.Closer {
	c := closerFunc(fn)
	return &c
}

// closeWrite half-closes c if it can, else closes it.
func closeWrite(c end) {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	c.Close()
}

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

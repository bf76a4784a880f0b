package testenv

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// ServeSHA256 accepts connections on ln until it is closed; for each it
// reads to EOF and writes back the SHA-256 of what arrived. SendChecked is
// its other end.
func ServeSHA256(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Minute))
			h := sha256.New()
			if _, err := io.Copy(h, c); err != nil {
				return
			}
			_, _ = c.Write(h.Sum(nil))
		}()
	}
}

// halfCloser is a connection that can end its sending side: *net.TCPConn
// and the netstack's *gonet.TCPConn.
type halfCloser interface {
	net.Conn
	CloseWrite() error
}

// SendChecked sends size pseudo-random bytes (from seed) over c to a
// ServeSHA256 sink, ends the sending side, and fails the test unless the
// sink's checksum matches what was sent. It returns how long the transfer
// took, checksum included. c must support CloseWrite.
func SendChecked(tb testing.TB, c net.Conn, size int64, seed uint64) time.Duration {
	tb.Helper()
	hc, ok := c.(halfCloser)
	if !ok {
		tb.Fatalf("%T cannot half-close", c)
	}
	src := io.LimitReader(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}), size)
	h := sha256.New()
	start := time.Now()
	if n, err := io.Copy(io.MultiWriter(hc, h), src); err != nil || n != size {
		tb.Fatalf("sent %d of %d bytes: %v", n, size, err)
	}
	if err := hc.CloseWrite(); err != nil {
		tb.Fatalf("ending the send: %v", err)
	}
	var got [sha256.Size]byte
	if _, err := io.ReadFull(hc, got[:]); err != nil {
		tb.Fatalf("reading the sink's checksum: %v", err)
	}
	elapsed := time.Since(start)
	if string(got[:]) != string(h.Sum(nil)) {
		tb.Fatalf("%d bytes arrived corrupted", size)
	}
	return elapsed
}

package tunnel

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"golang.zx2c4.com/wireguard/device"
)

// deviceLog adapts a *slog.Logger to wireguard-go's device.Logger:
// Verbosef becomes Debug and Errorf becomes Error. Noisy debug lines are
// dropped, and any run of 64 hex digits (how the UAPI spells a key) is
// redacted before a line is emitted, so key material cannot reach the log
// even from an echoed UAPI line. An error about one peer ("peer(…) -
// Failed to send …") is that peer's complaint, which wireguard-go repeats
// at every retry: it is logged once per peer, as info or a warning (see
// peerComplaints), not as an error every few seconds.
//
// wireguard-go's Close does not wait for all of its goroutines (the TUN
// event worker may still be finishing), so the adapter can be stopped:
// after stop returns no line is being written and none will be.
type deviceLog struct {
	l     *slog.Logger
	peers *peerComplaints

	mu      sync.RWMutex // held for reading while a line is written
	stopped bool
}

func newDeviceLog(l *slog.Logger) *deviceLog {
	return &deviceLog{l: l, peers: newPeerComplaints(nil)}
}

// logger returns the device.Logger to give to device.NewDevice.
func (d *deviceLog) logger() *device.Logger {
	debug := d.logf(slog.LevelDebug)
	errorf := d.logf(slog.LevelError)
	return &device.Logger{
		Verbosef: func(format string, args ...any) {
			d.peers.observe(format, args)
			debug(format, args...)
		},
		Errorf: func(format string, args ...any) {
			if peer, ok := perPeer(format, args); ok {
				d.complain(peer, fmt.Sprintf(format, args...))
				return
			}
			errorf(format, args...)
		},
	}
}

// complain logs a peer's complaint if peerComplaints says it is news.
func (d *deviceLog) complain(peer, text string) {
	ok, suppressed := d.peers.report(peer, text)
	if !ok {
		return
	}
	level := complaintLevel(text)
	if !d.l.Enabled(context.Background(), level) {
		return
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.stopped {
		return
	}
	attrs := []any{"peer", peer, "repeats", "not logged again until the peer's state changes"}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	d.l.Log(context.Background(), level, redactHexKeys(text), attrs...)
}

func (d *deviceLog) logf(level slog.Level) func(string, ...any) {
	return func(format string, args ...any) {
		if !d.l.Enabled(context.Background(), level) {
			return
		}
		if level < slog.LevelInfo && isNoisy(format) {
			return
		}
		d.mu.RLock()
		defer d.mu.RUnlock()
		if d.stopped {
			return
		}
		d.l.Log(context.Background(), level, redactHexKeys(fmt.Sprintf(format, args...)))
	}
}

// stop waits for lines being written and drops every later one.
func (d *deviceLog) stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
}

// isNoisy reports whether a wireguard-go debug format string fires per
// packet, per handshake retry, per worker goroutine or per allowed IP, and
// would drown everything else at debug level.
func isNoisy(format string) bool {
	noisy := [...]string{
		"Routine: ",
		"keepalive packet",
		"Sending handshake ",
		"Received handshake ",
		"retrying (try ",
		"Retrying handshake because",
		"UAPI: %s allowedip",
		"Sending cookie response",
		"handshake replay",
		"handshake flood",
	}
	for _, n := range noisy {
		if strings.Contains(format, n) {
			return true
		}
	}
	return false
}

// redactHexKeys replaces every run of at least 64 hex digits with
// "[redacted]".
func redactHexKeys(s string) string {
	const keyHexLen = 64
	isHex := func(c byte) bool {
		return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
	}
	var b strings.Builder
	start := 0 // s[start:] has not been copied to b yet
	for i := 0; i < len(s); {
		if !isHex(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isHex(s[j]) {
			j++
		}
		if j-i >= keyHexLen {
			b.WriteString(s[start:i])
			b.WriteString("[redacted]")
			start = j
		}
		i = j
	}
	if start == 0 {
		return s
	}
	b.WriteString(s[start:])
	return b.String()
}

package tunnel

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// How often a per-peer complaint is reported again while it goes on.
const (
	// complaintQuiet: a complaint not heard for this long is over; its next
	// occurrence is reported as new.
	complaintQuiet = 10 * time.Minute
	// complaintRemind: a complaint that goes on is reported again this
	// often, with how many lines were left out.
	complaintRemind = time.Hour
	// maxComplaints bounds the peers remembered at once.
	maxComplaints = 4096
)

// peerComplaints reports wireguard-go's repeated per-peer errors once per
// peer instead of every few seconds. A peer with a persistent keepalive but
// no endpoint yet (a client that has not connected) makes wireguard-go
// log "Failed to send handshake initiation: no known endpoint for peer" at
// every retry: about 90 lines in 6 minutes per peer. Such a line is
// reported the first time; the same line from the same peer is left out
// until the peer's state changes (a handshake, a UAPI change, the peer
// stopped or removed), the line's text changes, it was not heard for
// complaintQuiet, or complaintRemind has passed since it was reported.
// It is safe for concurrent use.
type peerComplaints struct {
	now func() time.Time

	mu   sync.Mutex
	seen map[string]*complaint // by the peer's name as wireguard-go prints it
}

// complaint is the last complaint reported for one peer.
type complaint struct {
	text       string
	reported   time.Time // when it was last logged
	last       time.Time // when it was last heard
	suppressed int       // lines left out since it was last logged
}

func newPeerComplaints(now func() time.Time) *peerComplaints {
	if now == nil {
		now = time.Now
	}
	return &peerComplaints{now: now, seen: map[string]*complaint{}}
}

// perPeer returns the peer a wireguard-go line is about: its format starts
// with the peer ("%v - ...") and args[0] prints it.
func perPeer(format string, args []any) (string, bool) {
	if len(args) == 0 || !(strings.HasPrefix(format, "%v - ") || strings.HasPrefix(format, "%s - ")) {
		return "", false
	}
	s, ok := args[0].(fmt.Stringer)
	if !ok {
		return "", false
	}
	return s.String(), true
}

// complaintLevel is the level a per-peer error is reported at. A peer
// without an endpoint is waiting for its client to connect first, which is
// normal for a server: info. Any other failure to send to a peer is a
// warning, not an error of the agent.
func complaintLevel(text string) slog.Level {
	if strings.Contains(text, "no known endpoint for peer") {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// report decides whether peer's complaint text is logged now. suppressed
// is how many identical lines were left out since it was last logged.
func (c *peerComplaints) report(peer, text string) (ok bool, suppressed int) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, found := c.seen[peer]; found && p.text == text &&
		now.Sub(p.last) < complaintQuiet && now.Sub(p.reported) < complaintRemind {
		p.last = now
		p.suppressed++
		return false, 0
	} else if found && p.text == text {
		suppressed = p.suppressed
	}
	if _, found := c.seen[peer]; !found && len(c.seen) >= maxComplaints {
		c.evict(now)
	}
	c.seen[peer] = &complaint{text: text, reported: now, last: now}
	return true, suppressed
}

// evict makes room: complaints that are over go first, else any one.
func (c *peerComplaints) evict(now time.Time) {
	for k, p := range c.seen {
		if now.Sub(p.last) >= complaintQuiet {
			delete(c.seen, k)
		}
	}
	for k := range c.seen {
		if len(c.seen) < maxComplaints {
			return
		}
		delete(c.seen, k)
	}
}

// observe reads a debug line of wireguard-go for a change of a peer's
// state, which ends its complaint: the next one is reported again. It is
// called for every debug line, logged or not, and formats nothing.
func (c *peerComplaints) observe(format string, args []any) {
	if format == "UAPI: Removing all peers" {
		c.mu.Lock()
		clear(c.seen)
		c.mu.Unlock()
		return
	}
	changed := strings.Contains(format, " - UAPI: ") || strings.Contains(format, " - Received handshake ") ||
		strings.HasSuffix(format, " - Stopping") || strings.HasSuffix(format, " - Starting")
	if !changed {
		return
	}
	peer, ok := perPeer(format, args)
	if !ok {
		return
	}
	c.mu.Lock()
	delete(c.seen, peer)
	c.mu.Unlock()
}

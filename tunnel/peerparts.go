package tunnel

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// The device writes its whole UAPI reply at once (about 300 bytes a peer,
// 3 MB for 10k peers), and parsing it is the largest part of a dump after
// the device's own work. A reply is split at peer boundaries so that its
// parts can be parsed on more than one CPU.

// minPartBytes is the smallest part worth a goroutine of its own: below
// it (a few hundred peers), starting one costs more than it saves.
const minPartBytes = 64 << 10

// peerBlockBytes is about the fewest bytes wireguard-go writes a peer
// (public and preshared key, protocol version, handshake, counters,
// keepalive): a reply of b bytes holds at most about b/peerBlockBytes
// peers, to size the duplicate check.
const peerBlockBytes = 256

// errStopped ends a part's parse because the caller's function failed in
// another part. (A part's malformed line stops no other part, so the
// error returned is that of the first malformed line, as in one piece.)
var errStopped = errors.New("stopped: the function failed in another part")

// KnownFunc tells a reader of the device's peers (Tunnel.EachPeerInParts)
// that it already holds what it needs of a peer, before the peer's lines
// are parsed: key is the peer's public key and text the reply from its
// public_key line on. It returns the length of the peer's lines if text
// starts with a Text it was given before for the same key, byte for
// byte, and 0 otherwise. Those lines parsed then, so they parse now to
// the same peer, which the reader need not be given again (most of a
// large interface's peers are idle between two reads). A length at which
// the parser would not close the peer (the peer has lines more) counts
// as 0.
type KnownFunc func(part int, key wgtypes.Key, text string) int

// EachPeerInParts is EachPeer for readers that use more than one CPU: the
// device's reply is read once, split at peer boundaries into at most n
// parts of about the same size (fewer for a small reply; the first holds
// the device's own lines) and each part is parsed on a goroutine of its
// own. fn(part, v) is called for each peer of part, part counted from 0,
// in the order the device reported them; the calls for one part are made
// one after the other, those for different parts concurrently. fn must
// not keep v or its AllowedIPs; v.Text is a part of a string that stays
// as it is (it may be kept).
//
// If known is not nil, it is asked about each peer before its lines are
// parsed, in the same goroutine and order as fn's calls; a peer it knows
// is not parsed, and fn is not called for it.
//
// The reply is held to the same rules as by EachPeer, with the same
// errors, but for a peer reported twice in two parts: fn may have been
// given it twice before that error is returned. An error of fn ends every
// part and is returned as it is (that of the lowest part, if several
// failed).
func (t *Tunnel) EachPeerInParts(n int, known KnownFunc, fn func(part int, v *PeerView) error) error {
	s, err := t.readPeers()
	if err != nil {
		return err
	}
	if err := EachPeerInText(s, n, known, fn); err != nil {
		var fe fnError
		if errors.As(err, &fe) {
			return fe.err
		}
		return fmt.Errorf("interface %s: reading peers: %w", t.name, err)
	}
	return nil
}

// EachPeerInText is EachPeerInParts of a reply already read, text: the
// same parts, calls and errors, but that the parse errors are not
// prefixed with an interface's name and an error of fn is returned
// wrapped (errors.Is finds it).
func EachPeerInText(text string, n int, known KnownFunc, fn func(part int, v *PeerView) error) error {
	return scanDeviceTextParts(text, n, minPartBytes, known, fn)
}

// fnError carries an error of the caller's function through
// scanDeviceTextParts, to be returned as it is.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func (e fnError) Unwrap() error { return e.err }

// splitPeerText returns the reply in text, up to its first empty line (the
// end of a reply), as at most n parts of about the same size, each but
// the first starting with a public_key line, each at least about minPart
// bytes long, and where in text each starts.
func splitPeerText(text string, n, minPart int) (parts []string, starts []int) {
	text = text[:replyLen(text, n, minPart)]
	n = max(1, min(n, len(text)/max(1, minPart)))
	size := len(text) / n
	start := 0
	for k := 1; k < n; k++ {
		from := max(start, k*size)
		j := strings.Index(text[from:], "\npublic_key=")
		if j < 0 {
			break
		}
		cut := from + j + 1
		parts = append(parts, text[start:cut])
		starts = append(starts, start)
		start = cut
	}
	return append(parts, text[start:]), append(starts, start)
}

// replyLen is the length of the reply in text: up to its first empty
// line, that line's newline excluded (0 if text starts with one; all of
// text if it has none). A large text is searched in up to n ranges at
// once, each at least about minPart bytes long, by indexEmptyLine: all of
// it is searched before any part can be parsed.
func replyLen(text string, n, minPart int) int {
	if strings.HasPrefix(text, "\n") {
		return 0
	}
	n = max(1, min(n, len(text)/max(1, minPart)))
	size := len(text) / n
	found := make([]int, n) // where the first "\n\n" of each range starts, or -1
	search := func(k int) {
		// Range k holds the pairs that start in [k*size, (k+1)*size),
		// the last range those up to the end.
		from, to := k*size, min(len(text), (k+1)*size+1)
		if k == n-1 {
			to = len(text)
		}
		found[k] = indexEmptyLine(text[from:to])
		if found[k] >= 0 {
			found[k] += from
		}
	}
	var wg sync.WaitGroup
	for k := 1; k < n; k++ {
		wg.Go(func() { search(k) })
	}
	search(0)
	wg.Wait()
	for _, at := range found {
		if at >= 0 {
			return at + 1
		}
	}
	return len(text)
}

// scanDeviceTextParts parses text as scanDeviceText does, in at most n
// parts on goroutines of their own (splitPeerText), calling fn(part, v)
// for each peer not known (nil: none is). An error of fn comes back as an
// fnError.
func scanDeviceTextParts(text string, n, minPart int, known KnownFunc, fn func(part int, v *PeerView) error) error {
	parts, starts := splitPeerText(text, n, minPart)
	parsers := make([]deviceParser, len(parts))
	errs := make([]error, len(parts))
	var stop atomic.Bool
	var st DeviceState // the device's lines, which only the first part has
	parse := func(k int) {
		p := &parsers[k]
		*p = deviceParser{st: &st, peersHint: len(parts[k]) / peerBlockBytes, onPeer: func(v *PeerView) error {
			if stop.Load() {
				return errStopped
			}
			if err := fn(k, v); err != nil {
				stop.Store(true)
				return fnError{err}
			}
			return nil
		}}
		if known != nil {
			p.known = func(key wgtypes.Key, text string) int { return known(k, key, text) }
		}
		err := p.scan(parts[k], text[:starts[k]])
		if err == nil {
			err = p.closePeer()
		}
		if err == nil && p.errnoSeen && k < len(parts)-1 {
			// The next part starts with a line, as the whole reply would
			// have had after the errno.
			err = fmt.Errorf("parsing uapi line %d: data after errno", 1+strings.Count(text[:starts[k+1]], "\n"))
		}
		errs[k] = err
	}
	var wg sync.WaitGroup
	for k := 1; k < len(parts); k++ {
		wg.Go(func() { parse(k) })
	}
	parse(0)
	wg.Wait()
	if err := firstPartError(errs); err != nil {
		return err
	}
	for k := 1; k < len(parsers); k++ {
		for _, key := range parsers[k].seenPeers.keys {
			for _, earlier := range parsers[:k] {
				if earlier.seenPeers.has(key) {
					return fmt.Errorf("duplicate peer %s", key)
				}
			}
		}
	}
	return parsers[0].finish()
}

// firstPartError is the error of the lowest part that failed other than
// by being stopped; errStopped only if every failure was that.
func firstPartError(errs []error) error {
	var stopped error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, errStopped):
			stopped = err
		default:
			return err
		}
	}
	return stopped
}

package agent

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"strconv"

	"github.com/wgfleet/wgfleet/tunnel"
)

// A dump is the largest answer the agent gives (about 200 bytes a peer),
// and the one the controller asks for every poll: it is encoded straight
// from the device's UAPI text in one pass, without building a value per
// peer and without reflection. The bytes are exactly those json.Encoder
// writes for the agentapi.Dump of the same peers (dumpjson_test.go holds
// them to it), so the wire contract does not see the difference.

// peerJSONSize is about what one peer with an endpoint and one allowed
// IP takes in a dump, to size the buffers once.
const peerJSONSize = 240

// dumpChunk is how much of a dump is copied into one Write: large enough
// for few system calls, small enough to stay in a CPU's cache.
const dumpChunk = 64 << 10

// dumpBody is a dump ready to be written: {"interface": name, "peers":
// [PEER...]}, peers sorted by public key. Its JSON is the peers' objects
// of a dumpSnap put end to end in key order, made as it is written.
type dumpBody struct {
	head []byte // up to the peers' opening bracket
	snap *dumpSnap
}

// dumpBody reads the device's peers once and encodes the dump of the
// interface, {"interface": name, "peers": [PEER...]}, peers sorted by
// public key, as the seed's dump shape says (agentapi.Peer): the
// preshared key is never written. The device's reply (3 MB of UAPI text
// for 10k peers) is parsed and encoded in parts, on as many goroutines as
// the agent may run at once, reusing what the last dump encoded of each
// peer whose lines did not change (dumpcache.go).
func (i *iface) dumpBody() (*dumpBody, error) {
	snap, err := i.dumps.build(runtime.GOMAXPROCS(0), i.peerCount(), readDevicePeers(i.tun))
	if err != nil {
		return nil, fmt.Errorf("reading peers of %s: %w", i.name, err)
	}
	head := appendJSONString([]byte(`{"interface":`), i.name)
	head = append(head, `,"peers":[`...)
	return &dumpBody{head: head, snap: snap}, nil
}

// done gives the dump's buffers back for a later one: the dump is not
// used again.
func (d *dumpBody) done() {
	d.snap.release()
}

// size is the length of the dump's JSON.
func (d *dumpBody) size() int {
	n := len(d.head) + len("]}\n")
	for k := range d.snap.parts {
		n += len(d.snap.parts[k].objs)
	}
	return n + max(0, len(d.snap.order)-1) // the commas
}

// WriteTo writes the dump's JSON, final newline included, to w in chunks
// of dumpChunk.
func (d *dumpBody) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 0, dumpChunk)
	var written int64
	flush := func() error {
		n, err := w.Write(buf)
		written += int64(n)
		buf = buf[:0]
		return err
	}
	buf = append(buf, d.head...)
	for n, ref := range d.snap.order {
		obj := d.snap.parts[ref.part].obj(ref.n)
		if len(buf)+1+len(obj) > cap(buf) && len(buf) > 0 {
			if err := flush(); err != nil {
				return written, err
			}
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, obj...)
	}
	buf = append(buf, "]}\n"...)
	return written, flush()
}

// appendPeerJSON appends v as the JSON object of agentapi.Peer that
// wirePeer(v.Peer()) makes, field for field and byte for byte.
func appendPeerJSON(b []byte, v *tunnel.PeerView) []byte {
	b = append(b, `{"public_key":"`...)
	b = base64.StdEncoding.AppendEncode(b, v.PublicKey[:])
	b = append(b, `","preshared_key":null,"endpoint":`...)
	if v.Endpoint.IsValid() {
		var scratch [64]byte
		ep := netip.AddrPortFrom(v.Endpoint.Addr().Unmap(), v.Endpoint.Port())
		b = appendJSONBytes(b, ep.AppendTo(scratch[:0]))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"allowed_ips":[`...)
	for n, p := range v.AllowedIPs {
		if n > 0 {
			b = append(b, ',')
		}
		// A prefix is digits, hex letters, '.', ':' and '/' (ParsePrefix
		// takes no zone): nothing to escape.
		b = append(b, '"')
		b = p.AppendTo(b)
		b = append(b, '"')
	}
	b = append(b, `],"latest_handshake":`...)
	if hs := v.LastHandshake(); !hs.IsZero() {
		b = strconv.AppendInt(b, hs.Unix(), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"transfer_rx":`...)
	b = strconv.AppendInt(b, v.ReceiveBytes, 10)
	b = append(b, `,"transfer_tx":`...)
	b = strconv.AppendInt(b, v.TransmitBytes, 10)
	b = append(b, `,"persistent_keepalive":`...)
	b = strconv.AppendInt(b, int64(v.PersistentKeepalive.Seconds()), 10)
	return append(b, '}')
}

// appendJSONString appends s as encoding/json writes a string (HTML
// characters escaped, as json.Encoder does by default).
func appendJSONString(b []byte, s string) []byte { return appendJSONBytes(b, []byte(s)) }

// appendJSONBytes is appendJSONString of the text in s: printable ASCII
// that needs no escape is copied, anything else is left to encoding/json.
func appendJSONBytes(b []byte, s []byte) []byte {
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(string(s)) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

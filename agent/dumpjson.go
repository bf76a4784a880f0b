package agent

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// A dump is the largest answer the agent gives (about 200 bytes a peer),
// and the one the controller asks for every poll: it is encoded straight
// from the device's UAPI text in one pass, without building a value per
// peer and without reflection. The bytes are exactly those json.Encoder
// writes for the agentapi.Dump of the same peers (dumpjson_test.go holds
// them to it), so the wire contract does not see the difference.

// encodedJSON is an answer already encoded as JSON, final newline
// included; writeJSON writes it as it is.
type encodedJSON []byte

// peerJSONSize is about what one peer with an endpoint and one allowed
// IP takes in a dump, to size the buffer once.
const peerJSONSize = 240

// dumpEntry is where one peer's object lies in the buffer of a dump, and
// its key, to sort by.
type dumpEntry struct {
	prefix     uint64 // the first 8 bytes of key, big endian: most comparisons end here
	key        wgtypes.Key
	start, end int
}

// dumpJSON reads the device's peers once and encodes the dump of the
// interface, {"interface": name, "peers": [PEER...]}, peers sorted by
// public key, as the seed's dump shape says (agentapi.Peer): the
// preshared key is never written.
func (i *iface) dumpJSON() (encodedJSON, error) {
	hint := i.peerCount() + 16 // a guess: the device may hold others
	objs := make([]byte, 0, hint*peerJSONSize)
	idx := make([]dumpEntry, 0, hint)
	err := i.tun.EachPeer(func(v *tunnel.PeerView) error {
		start := len(objs)
		objs = appendPeerJSON(objs, v)
		idx = append(idx, dumpEntry{prefix: binary.BigEndian.Uint64(v.PublicKey[:8]), key: v.PublicKey, start: start, end: len(objs)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading peers of %s: %w", i.name, err)
	}
	slices.SortFunc(idx, func(a, b dumpEntry) int {
		if c := cmp.Compare(a.prefix, b.prefix); c != 0 {
			return c
		}
		return bytes.Compare(a.key[:], b.key[:])
	})
	out := make([]byte, 0, len(objs)+len(idx)+64+len(i.name))
	out = append(out, `{"interface":`...)
	out = appendJSONString(out, i.name)
	out = append(out, `,"peers":[`...)
	for n, e := range idx {
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, objs[e.start:e.end]...)
	}
	out = append(out, "]}\n"...)
	return out, nil
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

package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/wgrules"
)

// The record codec of the peer state files (peerstore.go). A file is an
// 8-byte magic, then frames: a 4-byte big-endian payload length, the
// CRC-32C of the payload (4 bytes, big endian), the payload. A payload's
// first byte is its kind:
//
//	header: version, generation (uvarint), interface name (uvarint length, bytes)
//	batch:  count (uvarint), then count entries:
//	          0, public key (32)                     a removal
//	          1, public key (32), flags (bit 0: a preshared key follows),
//	             [preshared key (32)], keepalive (uvarint),
//	             allowed IPs: count (uvarint), then each
//	             4 or 6, address (4 or 16), prefix length
//	end:    how many peers the snapshot holds (uvarint)
//	replay: count (uvarint), then count agentapi.ReplayRecords (40 bytes
//	        each: the requests of the batch that follows, on record
//	        against replays; journal only, version 3)
const (
	recHeader byte = 1
	recBatch  byte = 2
	recEnd    byte = 3
	recReplay byte = 4

	entryRemove byte = 0
	entryPut    byte = 1

	// storeVersion is the version written; a journal of version 2 (no
	// replay records) is read as well.
	storeVersion = 3
	frameHeader  = 8
	// maxRecord bounds a payload a reader accepts: a garbled length is
	// not a reason to allocate gigabytes.
	maxRecord = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends payload, framed, to buf.
func appendFrame(buf, payload []byte) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(payload)))
	buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(payload, castagnoli))
	return append(buf, payload...)
}

// errTorn is a frame that does not end inside data or whose checksum
// fails: what a crash in the middle of an append leaves.
var errTorn = errors.New("torn or garbled record")

// nextFrame reads the frame at the start of data and returns its payload
// and the bytes it took.
func nextFrame(data []byte) (payload []byte, n int, err error) {
	if len(data) < frameHeader {
		return nil, 0, errTorn
	}
	size := binary.BigEndian.Uint32(data)
	// No record is empty: a zero length is a zero-filled tail, whose
	// checksum would match.
	if size == 0 || size > maxRecord || uint64(len(data)-frameHeader) < uint64(size) {
		return nil, 0, errTorn
	}
	payload = data[frameHeader : frameHeader+int(size)]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(data[4:]) {
		return nil, 0, errTorn
	}
	return payload, frameHeader + int(size), nil
}

func encodeHeader(gen uint64, iface string) []byte {
	p := []byte{recHeader, storeVersion}
	p = binary.AppendUvarint(p, gen)
	p = binary.AppendUvarint(p, uint64(len(iface)))
	return append(p, iface...)
}

func decodeHeader(p []byte) (gen uint64, iface string, err error) {
	if len(p) < 2 || p[0] != recHeader {
		return 0, "", errors.New("no header record")
	}
	if p[1] != storeVersion && p[1] != 2 {
		return 0, "", fmt.Errorf("unsupported version %d (want %d)", p[1], storeVersion)
	}
	r := reader{b: p[2:]}
	gen = r.uvarint()
	n := r.uvarint()
	name := r.bytes(n)
	if r.err != nil || len(r.b) != 0 {
		return 0, "", errors.New("malformed header record")
	}
	return gen, string(name), nil
}

// encodeBatch is the batch record of cs: a removal for each peer gone,
// the whole configuration of each peer added or changed.
func encodeBatch(cs []peerChange) []byte {
	p := make([]byte, 0, 16+len(cs)*48)
	p = append(p, recBatch)
	p = binary.AppendUvarint(p, uint64(len(cs)))
	for _, c := range cs {
		if !c.has {
			p = append(p, entryRemove)
			p = append(p, c.key[:]...)
			continue
		}
		p = appendPut(p, c.after)
	}
	return p
}

// encodeReplay is the replay record of recs.
func encodeReplay(recs []agentapi.ReplayRecord) []byte {
	p := make([]byte, 0, 2+binary.MaxVarintLen64+len(recs)*agentapi.ReplayRecordSize)
	p = append(p, recReplay)
	p = binary.AppendUvarint(p, uint64(len(recs)))
	for _, r := range recs {
		p = r.AppendBinary(p)
	}
	return p
}

// decodeReplay reads a replay record and appends what it holds to recs.
func decodeReplay(p []byte, recs []agentapi.ReplayRecord) ([]agentapi.ReplayRecord, error) {
	if len(p) == 0 || p[0] != recReplay {
		return nil, errors.New("not a replay record")
	}
	r := reader{b: p[1:]}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b))/agentapi.ReplayRecordSize || uint64(len(r.b)) != n*agentapi.ReplayRecordSize {
		return nil, errors.New("malformed replay record")
	}
	for range n {
		rec, err := agentapi.ParseReplayRecord(r.bytes(agentapi.ReplayRecordSize))
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

func appendPut(p []byte, c peerConf) []byte {
	p = append(p, entryPut)
	p = append(p, c.Key[:]...)
	if c.PSK != nil {
		p = append(p, 1)
		p = append(p, c.PSK[:]...)
	} else {
		p = append(p, 0)
	}
	p = binary.AppendUvarint(p, uint64(c.Keepalive))
	p = binary.AppendUvarint(p, uint64(len(c.AllowedIPs)))
	for _, a := range c.AllowedIPs {
		if a.Addr().Is4() {
			p = append(p, 4)
		} else {
			p = append(p, 6)
		}
		p = append(p, a.Addr().AsSlice()...)
		p = append(p, byte(a.Bits()))
	}
	return p
}

// applyBatch applies the batch record p to set. Every entry is checked as
// the API checks a peer; a record that does not decode, or removes a peer
// that is not there, is an error: it passed its checksum, so it is not
// torn but wrong.
func applyBatch(p []byte, set peerSet) error {
	if len(p) == 0 || p[0] != recBatch {
		return errors.New("not a batch record")
	}
	r := reader{b: p[1:]}
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		switch r.byte() {
		case entryRemove:
			k := r.key()
			if r.err != nil {
				break
			}
			if _, ok := set[k]; !ok {
				return fmt.Errorf("entry %d removes peer %s, which is not there", i, k)
			}
			delete(set, k)
		case entryPut:
			c, err := r.put()
			if err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
			set[c.Key] = c
		default:
			if r.err == nil {
				return fmt.Errorf("entry %d: unknown kind", i)
			}
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return errors.New("malformed batch record")
	}
	return nil
}

// reader takes fields off a payload; the first short read sets err and
// every later read returns zero values.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("record too short")

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.err = errShort
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil || uint64(len(r.b)) < n {
		r.err = errShort
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) key() wgtypes.Key {
	var k wgtypes.Key
	copy(k[:], r.bytes(32))
	return k
}

func (r *reader) put() (peerConf, error) {
	c := peerConf{Key: r.key()}
	flags := r.byte()
	if flags&^1 != 0 {
		return peerConf{}, errors.New("unknown flags")
	}
	if flags&1 != 0 {
		psk := r.key()
		c.PSK = &psk
	}
	ka := r.uvarint()
	if ka > wgrules.MaxKeepalive {
		return peerConf{}, fmt.Errorf("keepalive %d out of range", ka)
	}
	c.Keepalive = int(ka)
	n := r.uvarint()
	if n > uint64(len(r.b)) { // each takes at least 6 bytes
		r.err = errShort
	}
	if r.err != nil {
		return peerConf{}, r.err
	}
	c.AllowedIPs = make([]netip.Prefix, 0, n)
	for range n {
		var size uint64
		switch r.byte() {
		case 4:
			size = 4
		case 6:
			size = 16
		default:
			return peerConf{}, errors.New("unknown address family")
		}
		raw := r.bytes(size)
		bits := int(r.byte())
		if r.err != nil {
			return peerConf{}, r.err
		}
		a, _ := netip.AddrFromSlice(raw)
		p := netip.PrefixFrom(a, bits)
		if !p.IsValid() || p.Masked() != p || a.Is4In6() {
			return peerConf{}, fmt.Errorf("invalid allowed IP %s", p)
		}
		if k := len(c.AllowedIPs); k > 0 && comparePrefixes(c.AllowedIPs[k-1], p) >= 0 {
			return peerConf{}, errors.New("allowed IPs not sorted")
		}
		c.AllowedIPs = append(c.AllowedIPs, p)
	}
	if c.Key == (wgtypes.Key{}) {
		return peerConf{}, errors.New("zero public key")
	}
	return c, nil
}

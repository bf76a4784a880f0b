package agentapi

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"testing"
)

// chunkReader gives data in reads of 97 bytes times the sizes in sizes,
// in turn (1 byte for a size of 0 or no sizes, all that is left for 255),
// then err (io.EOF if nil).
type chunkReader struct {
	data  []byte
	sizes []byte
	n     int
	err   error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	size := 1
	if len(r.sizes) > 0 {
		size = max(1, int(r.sizes[r.n%len(r.sizes)])*97)
		if r.sizes[r.n%len(r.sizes)] == 255 {
			size = len(r.data)
		}
	}
	r.n++
	n := copy(p[:min(len(p), size)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// checkReadDump holds readDump of data, given in chunks and announced as
// announced bytes, to DecodeDump of data, and returns where it split it.
func checkReadDump(t *testing.T, data []byte, sizes []byte, announced, minSplit int) int {
	t.Helper()
	got, err := readDump(&chunkReader{data: data, sizes: sizes}, announced, minSplit)
	if err != nil {
		t.Fatalf("readDump: read error %v", err)
	}
	if !bytes.Equal(got.data, data) {
		t.Fatalf("readDump read %d bytes, want %d", len(got.data), len(data))
	}
	want, werr := DecodeDump(data)
	if (got.err == nil) != (werr == nil) || (got.err != nil && got.err.Error() != werr.Error()) {
		t.Fatalf("readDump error %v, DecodeDump %v", got.err, werr)
	}
	if !reflect.DeepEqual(got.dump, want) {
		t.Fatalf("readDump = %+v\nDecodeDump = %+v", got.dump, want)
	}
	return got.split
}

// TestReadDump: a dump decoded while it is read is DecodeDump's of the
// whole body, whatever the reads it comes in, split or not, announced
// with its length or not.
func TestReadDump(t *testing.T) {
	dump := agentDump(t, 3000)
	for _, tc := range []struct {
		name      string
		data      []byte
		sizes     []byte // reads of 97 bytes times each, in turn
		announced int    // -1: len(data)
		minSplit  int
		split     bool // whether the first half is decoded while the rest is read
	}{
		{"agent's dump, large reads", dump, []byte{254}, -1, minSplitBytes, true},
		{"agent's dump, small reads", dump, []byte{1, 3, 2}, -1, minSplitBytes, true},
		{"agent's dump in one read: still two halves", dump, []byte{255}, -1, 0, true},
		{"agent's dump, too small to split", dump, []byte{5}, -1, math.MaxInt, false},
		{"announced longer", dump, []byte{7}, len(dump) + 1000, minSplitBytes, true},
		{"announced shorter", dump, []byte{7}, len(dump) / 3, 0, true},
		{"announced as nothing", dump, []byte{7}, 0, 0, true},
		{"not in the fast path", append(bytes.Clone(dump[:len(dump)-3]), ` ,"x":1}`...), []byte{4}, -1, 0, true},
		{"cut short", dump[:len(dump)/2+2000], []byte{4}, -1, 0, true},
		{"not JSON", []byte(`},{"public_key":},{"public_key":`), []byte{0}, -1, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			announced := tc.announced
			if announced < 0 {
				announced = len(tc.data)
			}
			if split := checkReadDump(t, tc.data, tc.sizes, announced, tc.minSplit); (split >= 0) != tc.split {
				t.Fatalf("split at %d, want a split: %v", split, tc.split)
			}
		})
	}
}

// TestReadDumpReadError: an error of the read is returned as it is, with
// what was read before it, whether the first half was being decoded or
// not.
func TestReadDumpReadError(t *testing.T) {
	dump := agentDump(t, 3000)
	broken := errors.New("connection reset")
	for _, cut := range []int{100, len(dump) / 2, len(dump) - 10} {
		r := &chunkReader{data: dump[:cut], sizes: []byte{11}, err: broken}
		got, err := readDump(r, len(dump), 0)
		if err != broken {
			t.Fatalf("cut at %d: error %v, want %v", cut, err, broken)
		}
		if !bytes.Equal(got.data, dump[:cut]) {
			t.Fatalf("cut at %d: %d bytes read, want %d", cut, len(got.data), cut)
		}
	}
}

// FuzzReadDump holds the decode while reading to DecodeDump of the whole
// body, at any reads and any announced length, split wherever it can be.
func FuzzReadDump(f *testing.F) {
	f.Add(agentDump(f, 3), []byte{0}, int8(0))
	f.Add(agentDump(f, 40), []byte{1, 2}, int8(-100))
	f.Add([]byte(`{"interface":"wg0","peers":[{"public_key":"k","preshared_key":null,"endpoint":null,"allowed_ips":[],"latest_handshake":null,"transfer_rx":0,"transfer_tx":0,"persistent_keepalive":0},{"public_key":"k","preshared_key":null,"endpoint":null,"allowed_ips":[],"latest_handshake":null,"transfer_rx":0,"transfer_tx":0,"persistent_keepalive":0}]}`), []byte{0, 1}, int8(0))
	f.Add([]byte(`{"peers":[{"public_key":"a"},{"public_key":"b"}],"interface":"x"}`), []byte{0}, int8(3))
	f.Fuzz(func(t *testing.T, data, sizes []byte, shift int8) {
		checkReadDump(t, data, sizes, max(0, len(data)+int(shift)), 0)
	})
}

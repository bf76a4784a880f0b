package agentapi

import (
	"bytes"
	"io"
	"runtime"
)

// A dump of 10k peers is 2.4 MB, which takes a couple of milliseconds to
// arrive over loopback, and a few more to decode. Its first half is
// decoded while its second is still arriving: on a goroutine of its own,
// from the moment a peer boundary past the middle has arrived, by the
// same code that decodes it in two halves once read (decodeDumpSplit);
// the second half is decoded once it is all there, on the reading
// goroutine, and handed to the first. The value and the errors are
// DecodeDump's of the whole body.

// dumpRead is a dump's body read by readDump, and what DecodeDump makes
// of it.
type dumpRead struct {
	data  []byte // the body
	dump  Dump
	err   error // DecodeDump's error
	split int   // where the first half decoded while reading ends, -1 if none was
}

// readDump reads the body of a dump, announced as n bytes long, from r
// up to its end, and decodes it as DecodeDump does. err is an error of
// the read; then only the data read before it is set. A body of at least
// minSplit bytes is decoded while it is read.
func readDump(r io.Reader, n, minSplit int) (dumpRead, error) {
	var err error
	buf := make([]byte, max(n, 0)+bytes.MinRead) // room for the read that finds the end
	have, searched := 0, n/2                     // the first half is the bytes before searched
	split := -1
	var other chan half
	var first chan fastDump
	overlap := n >= minSplit && runtime.GOMAXPROCS(0) >= 2
	for {
		m, rerr := r.Read(buf[have:])
		have += m
		if overlap && split < 0 && have > searched {
			// A peer boundary past the middle, as splitPeers finds it.
			if j := bytes.Index(buf[searched:have], []byte(peerSeparator)); j >= 0 {
				split = searched + j + 1
				other, first = make(chan half, 1), make(chan fastDump, 1)
				go func(part []byte, split int) {
					d, ok := decodeDumpSplit(&dumpScanner{b: part}, n, func(*dumpScanner) (int, <-chan half) { return split, other })
					first <- fastDump{d, ok}
				}(buf[:split], split)
			} else {
				searched = max(searched, have-len(peerSeparator)+1)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
		if have == len(buf) { // longer than announced
			buf = append(buf, make([]byte, len(buf))...)
		}
	}
	data := buf[:have]
	if other == nil {
		if err != nil {
			return dumpRead{data: data, split: -1}, err
		}
		d, derr := DecodeDump(data)
		return dumpRead{data: data, dump: d, err: derr, split: -1}, nil
	}
	h := half{b: data}
	if err == nil {
		o := &dumpScanner{b: data, i: split}
		h.peers, h.ok = o.rest(make([]Peer, 0, (len(data)-split)/200+1))
		h.end = o.i
	}
	other <- h
	f := <-first
	switch {
	case err != nil:
		return dumpRead{data: data, split: split}, err
	case f.ok:
		return dumpRead{data: data, dump: f.d, split: split}, nil
	}
	// Not in the fast path's subset: the whole body, as DecodeDump takes
	// it.
	d, derr := DecodeDump(data)
	return dumpRead{data: data, dump: d, err: derr, split: split}, nil
}

// fastDump is what the fast path decoded, if ok.
type fastDump struct {
	d  Dump
	ok bool
}

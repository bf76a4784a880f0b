package store

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
)

// ErrNestedTx is returned by InTx, View, Reseal and every Store method
// when called from inside the function given to InTx, View (or Reseal) on
// the same goroutine. Inside InTx such a call would otherwise block
// forever (the store has one connection for writing and the running
// transaction holds it) or read past the transaction's own uncommitted
// writes; inside View it would take a second reader, or wait for the
// writer, outside the snapshot. Use the *Tx the function was given.
var ErrNestedTx = errors.New("store: Store method called inside a transaction on the same goroutine (it would deadlock); use the *Tx given to the function")

// enter returns the calling goroutine's id for runTx and View, or
// ErrNestedTx when that goroutine is already running a transaction of s. It starts no
// goroutine and takes no lock. A function given to InTx that waits on
// another goroutine calling the Store still deadlocks; that is not
// detected.
func (s *Store) enter() (uint64, error) {
	g := goroutineID()
	if g == 0 {
		return 0, nil
	}
	if s.owner.Load() == g {
		return 0, ErrNestedTx
	}
	if _, reading := s.readers.Load(g); reading {
		return 0, ErrNestedTx
	}
	return g, nil
}

// goroutineID is the id of the calling goroutine, read from the header of
// its stack trace ("goroutine 42 [running]:"); 0 if that cannot be read,
// which turns the nesting check off rather than mistaking goroutines.
func goroutineID() uint64 {
	var buf [40]byte
	n := runtime.Stack(buf[:], false)
	rest, ok := strings.CutPrefix(string(buf[:n]), "goroutine ")
	if !ok {
		return 0
	}
	id, _, ok := strings.Cut(rest, " ")
	if !ok {
		return 0
	}
	v, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return 0
	}
	return v
}

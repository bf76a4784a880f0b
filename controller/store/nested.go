package store

import (
	"errors"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// ErrNestedTx is returned by InTx, View, Reseal and every Store method
// when called from inside the function given to InTx, View (or Reseal) on
// the same goroutine. Inside InTx such a call would otherwise block
// forever (the store has one connection for writing and the running
// transaction holds it) or read past the transaction's own uncommitted
// writes; inside View it would take a second reader, or wait for the
// writer, outside the snapshot. Use the *Tx the function was given.
var ErrNestedTx = errors.New("store: Store method called inside a transaction on the same goroutine (it would deadlock); use the *Tx given to the function")

// How a nested call is told apart. Every function given to InTx or View
// is called through one of two small functions, callWriteFn and
// callReadFn, so while it runs one of them is on its goroutine's stack:
// enter walks the caller's stack (runtime.Callers, return addresses only,
// nothing formatted) and looks for them. A write function's frame found,
// enter compares the goroutine's id with the store's owner (the writer
// goroutine, or Reseal's caller): that id is read from a stack trace,
// which costs about 30 times the walk, so only in that case, which is a
// bug or a call to another Store from a write function. A read
// function's frame found while a View of s runs is taken as nested: a
// goroutine inside a View of another Store calling s while a View of s
// runs elsewhere is refused too (the controller has one Store; code
// inside a transaction calls no other). Before this, every call read its
// goroutine's id from a stack trace: 7-9% of the controller's CPU at
// fleet scale (docs/BENCHMARKS.md, controller-fleet).
//
// A function given to InTx that waits on another goroutine calling the
// Store still deadlocks; that is not detected.

// enter returns ErrNestedTx when the calling goroutine is inside a
// function given to InTx, View or Reseal of s (see above). It starts no
// goroutine and takes no lock.
func (s *Store) enter() error {
	writing, reading := s.owner.Load() != 0, s.viewers.Load() != 0
	if !writing && !reading {
		return nil // nothing of s runs: no call can be inside it
	}
	inWrite, inRead := fnFrames()
	if inRead && reading {
		return ErrNestedTx
	}
	if inWrite && writing {
		if g := goroutineID(); g != 0 && s.owner.Load() == g {
			return ErrNestedTx
		}
	}
	return nil
}

// callWriteFn calls a function given to InTx (or Reseal's); its frame on
// a goroutine's stack says that goroutine is running one.
//
//go:noinline
func callWriteFn(fn func(tx *Tx) error, tx *Tx) error { return fn(tx) }

// callReadFn calls a function given to View, as callWriteFn.
//
//go:noinline
func callReadFn(fn func(tx *Tx) error, tx *Tx) error { return fn(tx) }

// fnEntries are the entry addresses of callWriteFn and callReadFn.
var fnEntries = sync.OnceValue(func() [2]uintptr {
	entry := func(f any) uintptr {
		return runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Entry()
	}
	return [2]uintptr{entry(callWriteFn), entry(callReadFn)}
})

// fnFrameSpan bounds how far past its entry a return address inside
// callWriteFn or callReadFn can be: each is a few instructions. A return
// address in that span is confirmed by runtime.FuncForPC.
const fnFrameSpan = 512

// fnFrames reports whether callWriteFn (write) or callReadFn (read) is
// on the calling goroutine's stack.
func fnFrames() (write, read bool) {
	entries := fnEntries()
	var pcs [64]uintptr
	for skip := 2; ; skip += len(pcs) {
		n := runtime.Callers(skip, pcs[:])
		for _, pc := range pcs[:n] {
			for i, e := range entries {
				if pc <= e || pc-e > fnFrameSpan {
					continue
				}
				if f := runtime.FuncForPC(pc - 1); f != nil && f.Entry() == e {
					if i == 0 {
						write = true
					} else {
						read = true
					}
				}
			}
		}
		if n < len(pcs) {
			return write, read
		}
	}
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

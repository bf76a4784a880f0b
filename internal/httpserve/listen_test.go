package httpserve

import (
	"context"
	"errors"
	"net"
	"testing"
)

func TestListen(t *testing.T) {
	ctx := context.Background()
	errServed := errors.New("served")
	var got net.Addr
	closed := 0
	serve := func(_ context.Context, ln net.Listener) error {
		got = ln.Addr()
		return errors.Join(errServed, ln.Close())
	}
	closeFn := func() error { closed++; return nil }
	if err := Listen(ctx, "127.0.0.1:0", serve, closeFn); !errors.Is(err, errServed) {
		t.Fatalf("Listen = %v, want serve's error", err)
	}
	if got == nil || closed != 0 {
		t.Fatalf("serve got %v, close called %d times; want a listener and no close", got, closed)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	got = nil
	err = Listen(ctx, busy.Addr().String(), serve, closeFn)
	if err == nil || errors.Is(err, errServed) {
		t.Fatalf("Listen on a busy address = %v, want a listen error", err)
	}
	if got != nil || closed != 1 {
		t.Fatalf("serve got %v, close called %d times; want no serve and one close", got, closed)
	}
}

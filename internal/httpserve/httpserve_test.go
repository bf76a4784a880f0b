package httpserve

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestServeDrainsInFlightRequests(t *testing.T) {
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, NewServer(h, slog.New(slog.DiscardHandler)), ln, 5*time.Second, nil) }()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel() // shut down while the request is in flight
	if b := <-got; b != "done" {
		t.Fatalf("in-flight request got %q, want it answered", b)
	}
	if err := <-served; err != nil {
		t.Fatalf("clean shutdown returned %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String()); err == nil {
		t.Fatal("server still accepts after shutdown")
	}
}

func TestServeAbort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	abort := make(chan error, 1)
	want := errors.New("tunnel died")
	abort <- want
	err = Serve(context.Background(), NewServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler)), ln, time.Second, abort)
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want the abort error", err)
	}
}

package httpserve

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestCheckHealthz(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx := context.Background()
	for _, listen := range []string{":" + port, "0.0.0.0:" + port, "127.0.0.1:" + port} {
		if err := CheckHealthz(ctx, listen); err != nil {
			t.Errorf("CheckHealthz(%q): %v", listen, err)
		}
	}
	status.Store(http.StatusServiceUnavailable)
	if err := CheckHealthz(ctx, ":"+port); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a 503 answer: %v, want an error naming 503", err)
	}
	srv.Close()
	if err := CheckHealthz(ctx, ":"+port); err == nil {
		t.Error("nothing listening: no error")
	}
	if err := CheckHealthz(ctx, "no-port"); err == nil {
		t.Error("a listen address without a port: no error")
	}
}

// TestCheckHealthzTLS: a server with a self-signed certificate is asked
// over HTTPS; plain CheckHealthz to it fails, and CheckHealthzTLS to a
// plain server fails.
func TestCheckHealthzTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	ctx := context.Background()
	if err := CheckHealthzTLS(ctx, ":"+port); err != nil {
		t.Errorf("CheckHealthzTLS: %v", err)
	}
	if err := CheckHealthz(ctx, ":"+port); err == nil {
		t.Error("plain CheckHealthz of an HTTPS server: no error")
	}
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(plain.Close)
	_, port, _ = net.SplitHostPort(plain.Listener.Addr().String())
	if err := CheckHealthzTLS(ctx, ":"+port); err == nil {
		t.Error("CheckHealthzTLS of a plain server: no error")
	}
}

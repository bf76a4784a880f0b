// Package httpserve runs an HTTP server for the lifetime of a context and
// drains it at the end, the same way for the agent and the controller.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// NewServer is an http.Server with the timeouts both programs use; its
// error log goes to log at warn level.
func NewServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Serve serves srv on ln until ctx is done, then stops accepting and waits
// up to drain for in-flight requests. An error on abort stops the server at
// once and is returned. Serve returns nil after a clean shutdown.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, drain time.Duration, abort <-chan error) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving HTTP: %w", err)
	case err := <-abort:
		_ = srv.Close()
		<-errc
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	var shutdownErr error
	if err := srv.Shutdown(sctx); err != nil {
		shutdownErr = fmt.Errorf("draining HTTP requests: %w", err)
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving HTTP: %w", err)
	}
	return shutdownErr
}

// Listen listens on addr (TCP) and hands the listener to serve. When
// listening fails serve never runs, so Listen calls closeFn to free what
// serve would have closed, and returns the error.
func Listen(ctx context.Context, addr string, serve func(context.Context, net.Listener) error, closeFn func() error) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = closeFn()
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return serve(ctx, ln)
}

package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// listenUAPI opens the UAPI socket dir/name.sock the way wireguard-go's
// ipc.UAPIOpen does, but in any directory: the directory is made 0755 if
// missing, the socket is mode 0600 from the moment it exists, and a stale
// socket nobody answers on is replaced while a live one is an error.
//
// The mode is set with fchmod on the socket before bind, which Linux
// carries over to the file bind creates, rather than with umask, which is
// process-wide.
func listenUAPI(dir, name string) (*net.UnixListener, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating UAPI directory: %w", err)
	}
	path := filepath.Join(dir, name+".sock")
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { err = unix.Fchmod(int(fd), 0o600) }); cerr != nil {
			return cerr
		}
		return err
	}}
	listen := func() (*net.UnixListener, error) {
		l, err := lc.Listen(context.Background(), "unix", path)
		if err != nil {
			return nil, err
		}
		return l.(*net.UnixListener), nil
	}
	l, err := listen()
	if err == nil {
		return l, nil
	}
	if !errors.Is(err, unix.EADDRINUSE) {
		return nil, fmt.Errorf("listening on UAPI socket %s: %w", path, err)
	}
	if c, derr := net.DialTimeout("unix", path, time.Second); derr == nil {
		c.Close()
		return nil, fmt.Errorf("UAPI socket %s is in use by another process", path)
	}
	if err := os.Remove(path); err != nil {
		return nil, fmt.Errorf("removing stale UAPI socket: %w", err)
	}
	l, err = listen()
	if err != nil {
		return nil, fmt.Errorf("listening on UAPI socket %s: %w", path, err)
	}
	return l, nil
}

// uapiServer serves the UAPI socket: one goroutine accepts, one per client
// runs handle (device.IpcHandle, which closes the connection). Close stops
// both and removes the socket file.
type uapiServer struct {
	ln     *net.UnixListener
	handle func(net.Conn)
	log    *slog.Logger
	wg     sync.WaitGroup

	// mu guards the client set below; it never covers a device call.
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
	stop    chan struct{}
}

func serveUAPI(ln *net.UnixListener, handle func(net.Conn), log *slog.Logger) *uapiServer {
	s := &uapiServer{
		ln:     ln,
		handle: handle,
		log:    log,
		conns:  make(map[net.Conn]struct{}),
		stop:   make(chan struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s
}

func (s *uapiServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of descriptors or similar: wait rather than spin.
			s.log.Error("accepting UAPI connection", "err", err)
			select {
			case <-s.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handle(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops accepting, closes every client connection, waits for the
// goroutines and removes the socket file.
func (s *uapiServer) Close() error {
	s.mu.Lock()
	s.closing = true
	close(s.stop)
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NobodyID is the uid and gid of nobody and nogroup on Debian.
const NobodyID = 65534

// Process is a program a test started as another user; Stop ends it.
type Process struct {
	Cmd    *exec.Cmd
	Logs   *LogBuffer // its stdout and stderr
	exited chan error
}

// StartAs starts argv as uid and gid (no supplementary groups) with
// exactly the environment env, as a service manager would, and stops it
// with SIGKILL when the test ends if it still runs. It needs root.
func StartAs(t testing.TB, uid, gid uint32, argv, env []string) *Process {
	t.Helper()
	p := &Process{Cmd: exec.Command(argv[0], argv[1:]...), Logs: &LogBuffer{}, exited: make(chan error, 1)}
	p.Cmd.Env = env
	p.Cmd.Dir = "/"
	p.Cmd.Stdout, p.Cmd.Stderr = p.Logs, p.Logs
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("starting %v as %d:%d: %v", argv, uid, gid, err)
	}
	go func() { p.exited <- p.Cmd.Wait() }()
	t.Cleanup(func() {
		if done, _ := p.Exited(); !done {
			_ = p.Cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// Exited reports, without waiting, whether the process has exited, and
// how.
func (p *Process) Exited() (bool, error) {
	select {
	case err := <-p.exited:
		p.exited <- err // keep it for Stop and the cleanup
		return true, err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM and waits up to d for the process to exit. It
// returns the exit error (nil for status 0) or an error if it did not
// exit in time.
func (p *Process) Stop(d time.Duration) error {
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(d):
		return errors.New("did not exit within " + d.String() + " of SIGTERM")
	}
}

// RunAs runs argv to completion as uid and gid with exactly the
// environment env and returns its combined output and exit error.
func RunAs(uid, gid uint32, argv, env []string) ([]byte, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	return cmd.CombinedOutput()
}

// ImageRun is a container started from an image stage without Docker:
// its ENTRYPOINT and CMD (plus extra arguments, as `docker run IMAGE
// ARGS...` adds them) as its USER, with its ENV, each VOLUME a fresh
// directory owned by that user (an ENV value naming a volume names that
// directory instead) and env added last, as `docker run -e` adds it.
// Programs under /usr/local/bin are taken from bins (name -> path).
type ImageRun struct {
	*Process
	UID, GID uint32
	Env      []string
	bins     map[string]string
}

// StartImage starts the stage as described on ImageRun. It needs root.
func StartImage(t testing.TB, st ImageStage, bins map[string]string, env []string, args ...string) *ImageRun {
	t.Helper()
	uid, gid := st.UserIDs(t)
	if uid == 0 {
		t.Fatalf("stage %s runs as root", st.Name)
	}
	root, err := os.MkdirTemp("", "wgfleet-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	volumes := map[string]string{}
	for i, v := range st.Volumes {
		d := filepath.Join(root, fmt.Sprintf("volume%d", i))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, int(uid), int(gid)); err != nil {
			t.Fatal(err)
		}
		volumes[v] = d
	}
	r := &ImageRun{UID: uid, GID: gid, bins: bins}
	for _, e := range st.Env {
		k, v, _ := strings.Cut(e, "=")
		if d, ok := volumes[v]; ok {
			v = d
		}
		r.Env = append(r.Env, k+"="+v)
	}
	r.Env = append(append(r.Env, "PATH=/usr/local/bin:/usr/bin:/bin"), env...)
	argv := r.argv(t, append(append(append([]string(nil), st.Entrypoint...), st.Cmd...), args...))
	r.Process = StartAs(t, uid, gid, argv, r.Env)
	return r
}

// Exec runs argv in the container's user and environment, like docker exec
// (and like Docker runs HEALTHCHECK CMD).
func (r *ImageRun) Exec(t testing.TB, argv []string) ([]byte, error) {
	t.Helper()
	return RunAs(r.UID, r.GID, r.argv(t, argv), r.Env)
}

// argv maps the image's programs to the binaries the test built.
func (r *ImageRun) argv(t testing.TB, argv []string) []string {
	t.Helper()
	if len(argv) == 0 {
		t.Fatal("the image runs no command")
	}
	out := append([]string(nil), argv...)
	if strings.HasPrefix(out[0], "/usr/local/bin/") {
		bin, ok := r.bins[filepath.Base(out[0])]
		if !ok {
			t.Fatalf("the image runs %s, which the test did not build", out[0])
		}
		out[0] = bin
	}
	return out
}

// MkdirNobody makes each dir (and its parents) with mode 0700 owned by
// nobody, as a service manager makes a unit's state and credentials
// directories for its user.
func MkdirNobody(t testing.TB, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, NobodyID, NobodyID); err != nil {
			t.Fatal(err)
		}
	}
}

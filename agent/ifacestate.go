package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// disabledFile marks an interface brought down by POST .../disable, so that
// it stays down across a restart: it exists while the interface is
// disabled. Its content is for people reading the state directory.
type disabledFile struct{ path string }

func (f disabledFile) exists() (bool, error) {
	_, err := os.Stat(f.path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("reading %s: %w", f.path, err)
}

// set makes the mark exist (disabled) or not, durably.
func (f disabledFile) set(disabled bool) error {
	if disabled {
		return writeFileAtomic(f.path, []byte("disabled through the API (POST /v1/wg/{iface}/enable brings it up)\n"))
	}
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", f.path, err)
	}
	return syncDir(filepath.Dir(f.path))
}

// upState is the interface's device state on the wire.
func (i *iface) upState() string {
	if i.tun.IsUp() {
		return agentapi.InterfaceUp
	}
	return agentapi.InterfaceDown
}

// setUp brings the device up or down, keeping its peers, and records the
// choice so that a restart keeps it. It answers after both. If the record
// cannot be written, the device is put back.
func (i *iface) setUp(up bool) error {
	i.upMu.Lock()
	defer i.upMu.Unlock()
	was := i.tun.IsUp()
	if err := i.tun.SetUp(up); err != nil {
		return err
	}
	if err := i.disabled.set(!up); err != nil {
		if rerr := i.tun.SetUp(was); rerr != nil {
			i.log.Error("putting the device back after failing to record its state", "iface", i.name, "err", rerr)
		}
		return fmt.Errorf("recording the state of %s: %w", i.name, err)
	}
	return nil
}

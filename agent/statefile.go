package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wgfleet/wgfleet/agent/agentapi"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// stateVersion is the format version of the peer state file.
const stateVersion = 1

// stateFile is the on-disk record of one interface's desired peers. It holds
// preshared keys, so it is written with mode 0600, atomically (temp file,
// fsync, rename, fsync of the directory).
type stateFile struct {
	path string
}

// stateDoc is the file's JSON. Each peer is written as the entry of a
// replace-all body (agentapi.PeerSpec) and read back through the same
// validation; a preshared key is present only when the peer has one.
type stateDoc struct {
	Version   int                 `json:"version"`
	Interface string              `json:"interface"`
	Peers     []agentapi.PeerSpec `json:"peers"`
}

// ErrCorruptState means a state file exists but cannot be read back. The
// agent refuses to start rather than come up with a silently empty interface.
var ErrCorruptState = errors.New("corrupt peer state file")

// load reads the peer set. A missing file is an empty set; anything that
// does not parse or validate in full is ErrCorruptState.
func (f stateFile) load(iface string) (peerSet, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return peerSet{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading peer state %s: %w", f.path, err)
	}
	set, err := decodeState(data, iface)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v (move it away to start with no peers)", ErrCorruptState, f.path, err)
	}
	return set, nil
}

func decodeState(data []byte, iface string) (peerSet, error) {
	var doc stateDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON document")
	}
	if doc.Version != stateVersion {
		return nil, fmt.Errorf("unsupported version %d (want %d)", doc.Version, stateVersion)
	}
	if doc.Interface != iface {
		return nil, fmt.Errorf("file is for interface %q, not %q", doc.Interface, iface)
	}
	set := make(peerSet, len(doc.Peers))
	for i, p := range doc.Peers {
		conf, err := confFromSync(i, p) // an empty preshared key is none
		if err != nil {
			return nil, err
		}
		if _, dup := set[conf.Key]; dup {
			return nil, fmt.Errorf("peers[%d]: duplicate public key", i)
		}
		set[conf.Key] = conf
	}
	if err := set.checkOverlap(); err != nil {
		return nil, err
	}
	return set, nil
}

func encodeState(iface string, set peerSet) ([]byte, error) {
	doc := stateDoc{Version: stateVersion, Interface: iface, Peers: make([]agentapi.PeerSpec, 0, len(set))}
	for _, k := range sortedKeys(set) {
		s := set[k]
		p := agentapi.PeerSpec{PublicKey: k.String(), AllowedIPs: prefixStrings(s.AllowedIPs), PersistentKeepalive: s.Keepalive}
		if s.PSK != nil {
			psk := s.PSK.String()
			p.PresharedKey = &psk
		}
		doc.Peers = append(doc.Peers, p)
	}
	return json.MarshalIndent(doc, "", "  ")
}

// save replaces the file with set, atomically.
func (f stateFile) save(iface string, set peerSet) error {
	data, err := encodeState(iface, set)
	if err != nil {
		return fmt.Errorf("encoding peer state: %w", err)
	}
	return writeFileAtomic(f.path, data)
}

// writeFileAtomic writes data to path with mode 0600 so that a reader sees
// either the old or the new content, never a mix, even across a crash.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename, creation or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// loadOrCreateKey reads the interface's private key from path, or makes one
// with mode 0600 on first start. The key never leaves the node.
func loadOrCreateKey(path string) (wgtypes.Key, error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, perr := agentapi.ParseKey(string(bytes.TrimSpace(data)))
		if perr != nil {
			return wgtypes.Key{}, fmt.Errorf("private key file %s is not a valid key", path)
		}
		if st, serr := os.Stat(path); serr == nil && st.Mode().Perm()&0o077 != 0 {
			return wgtypes.Key{}, fmt.Errorf("private key file %s has mode %v; it must not be readable by group or others (chmod 600)", path, st.Mode().Perm())
		}
		return k, nil
	case errors.Is(err, fs.ErrNotExist):
		k, gerr := wgtypes.GeneratePrivateKey()
		if gerr != nil {
			return wgtypes.Key{}, fmt.Errorf("generating private key: %w", gerr)
		}
		if werr := writeFileAtomic(path, []byte(k.String()+"\n")); werr != nil {
			return wgtypes.Key{}, werr
		}
		return k, nil
	default:
		return wgtypes.Key{}, fmt.Errorf("reading private key: %w", err)
	}
}

package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// stateVersion is the format version of the legacy peer state file.
const stateVersion = 1

// stateDoc is the JSON of the legacy peer state file: until the journal
// (peerstore.go), the agent rewrote this file whole at every change. A
// peerStore reads it once, on the first start, and replaces it. Each peer is written as the entry of a
// replace-all body (agentapi.PeerSpec) and read back through the same
// validation; a preshared key is present only when the peer has one.
type stateDoc struct {
	Version   int                 `json:"version"`
	Interface string              `json:"interface"`
	Peers     []agentapi.PeerSpec `json:"peers"`
}

// loadLegacyState reads the legacy state file at path. A missing file is
// an empty set; anything that does not parse or validate in full is
// ErrCorruptState, and the file is left as it is.
func loadLegacyState(path, iface string) (peerSet, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return peerSet{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading peer state %s: %w", path, err)
	}
	set, err := decodeState(data, iface)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v (move it away to start with no peers)", ErrCorruptState, path, err)
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

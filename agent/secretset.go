package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// SecretsFile is the name, in the state directory, of the record of
// secret rotations (docs/AGENT_API.md, "Secret rotation"): the secret taken
// by the last confirmed rotation, one offered and not yet confirmed, and
// which configured secrets that rotation retired. It holds secrets, so it
// is written like the peer state: mode 0600, atomically, synced.
const SecretsFile = "secrets.json"

// secretsVersion is the format version of SecretsFile.
const secretsVersion = 1

// ErrCorruptSecrets means SecretsFile exists but cannot be read back. The
// agent refuses to start rather than guess which secrets to accept.
var ErrCorruptSecrets = errors.New("corrupt secrets file")

// secretsDoc is SecretsFile's JSON.
type secretsDoc struct {
	Version int `json:"version"`
	// Current is the secret the last confirmed rotation installed; "" if
	// there was none.
	Current string `json:"current,omitempty"`
	// Pending is the secret offered and not yet confirmed; "" for none.
	Pending string `json:"pending,omitempty"`
	// Retired are the lowercase hex SHA-256 digests of the configured
	// secrets (secret file or WG_AGENT_SECRET) that were accepted when
	// Current was confirmed: they are no longer accepted, even though the
	// configuration still names them.
	Retired []string `json:"retired,omitempty"`
}

// secretSet is the agent's accepted secrets: the configured ones, minus
// those a rotation retired, plus the ones rotation installed or offered.
// Every change is saved to SecretsFile before it is applied and before it
// is answered, so a restart at any point keeps accepting the secrets the
// controller may sign with: the old one until a confirm is saved, the new
// one from its offer on.
type secretSet struct {
	path  string
	apply func([][]byte) error // installs the accepted secrets (Verifier.SetSecrets)

	mu         sync.Mutex // serializes changes, their saving and applying; guards the fields below
	configured [][]byte
	doc        secretsDoc
}

// loadSecretSet reads path (a missing file is no rotation yet) and applies
// the accepted secrets once. A file readable by group or others, or one
// that does not read back in full, is an error.
func loadSecretSet(path string, configured [][]byte, apply func([][]byte) error) (*secretSet, error) {
	s := &secretSet{path: path, apply: apply, configured: cloneSecrets(configured), doc: secretsDoc{Version: secretsVersion}}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading secrets file: %w", err)
	default:
		if st, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("reading secrets file: %w", err)
		} else if perm := st.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("secrets file %s has mode %v; it must not be readable or writable by group or others: run chmod 600 %s", path, perm, path)
		}
		if s.doc, err = decodeSecrets(data); err != nil {
			return nil, fmt.Errorf("%w %s: %v (remove it to accept the configured secrets only)", ErrCorruptSecrets, path, err)
		}
	}
	if err := s.apply(s.acceptedLocked()); err != nil {
		return nil, err
	}
	return s, nil
}

func decodeSecrets(data []byte) (secretsDoc, error) {
	var doc secretsDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return secretsDoc{}, fmt.Errorf("not valid JSON: %w", err)
	}
	if dec.More() {
		return secretsDoc{}, errors.New("trailing data after the JSON document")
	}
	if doc.Version != secretsVersion {
		return secretsDoc{}, fmt.Errorf("unsupported version %d (want %d)", doc.Version, secretsVersion)
	}
	for field, v := range map[string]string{"current": doc.Current, "pending": doc.Pending} {
		if v == "" {
			continue
		}
		if err := agentapi.CheckRotatedSecret([]byte(v)); err != nil {
			return secretsDoc{}, fmt.Errorf("%s secret %w", field, err)
		}
	}
	for i, d := range doc.Retired {
		if b, err := hex.DecodeString(d); err != nil || len(b) != sha256.Size || d != hex.EncodeToString(b) {
			return secretsDoc{}, fmt.Errorf("retired[%d] is not a lowercase hex SHA-256 digest", i)
		}
	}
	if doc.Current == "" && len(doc.Retired) > 0 {
		return secretsDoc{}, errors.New("configured secrets are retired but no current secret replaces them")
	}
	return doc, nil
}

// digest is how a retired secret is recorded.
func digest(secret []byte) string {
	d := sha256.Sum256(secret)
	return hex.EncodeToString(d[:])
}

// acceptedLocked returns the accepted secrets, the most likely signer
// first: the rotated one, the offered one, then every configured secret
// not retired. s.mu must be held (or s not yet shared).
func (s *secretSet) acceptedLocked() [][]byte {
	var out [][]byte
	add := func(secret []byte) {
		if !slices.ContainsFunc(out, func(o []byte) bool { return bytes.Equal(o, secret) }) {
			out = append(out, secret)
		}
	}
	if s.doc.Current != "" {
		add([]byte(s.doc.Current))
	}
	if s.doc.Pending != "" {
		add([]byte(s.doc.Pending))
	}
	for _, c := range s.configured {
		if !slices.Contains(s.doc.Retired, digest(c)) {
			add(c)
		}
	}
	return out
}

// setConfigured replaces the configured secrets (the secret file read
// again) and applies the accepted ones. A retired secret stays retired.
// It fails, changing nothing, when no secret would be accepted.
func (s *secretSet) setConfigured(configured [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.configured
	s.configured = cloneSecrets(configured)
	if err := s.apply(s.acceptedLocked()); err != nil {
		s.configured = old
		return err
	}
	return nil
}

// offer makes next a pending secret, accepted from now on besides the
// others; signer is the secret that signed the offer. Offering the pending
// secret again changes nothing (a controller that lost the answer);
// another offer replaces the pending secret. An offer signed with the
// pending secret, or of a secret already accepted otherwise, is a
// conflict.
func (s *secretSet) offer(signer, next []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.doc.Pending != "" && bytes.Equal(signer, []byte(s.doc.Pending)) {
		return conflictf("a secret offer must be signed with an established secret, not the pending one: confirm it first")
	}
	if bytes.Equal(next, []byte(s.doc.Pending)) {
		return nil
	}
	if slices.ContainsFunc(s.acceptedLocked(), func(a []byte) bool { return bytes.Equal(a, next) }) {
		return conflictf("the offered secret is already accepted: offer a new one")
	}
	doc := s.doc
	doc.Pending = string(next)
	return s.commitLocked(doc)
}

// confirm makes the pending secret the only one accepted, retiring every
// configured secret; signer, the secret that signed the confirm, must be
// the pending one. A confirm signed with the current secret when nothing
// is pending changes nothing (a controller that lost the answer).
func (s *secretSet) confirm(signer []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.doc.Pending == "" {
		if s.doc.Current != "" && bytes.Equal(signer, []byte(s.doc.Current)) {
			return nil
		}
		return conflictf("no secret rotation is pending: offer a secret at %s first", agentapi.PathSecretRotate)
	}
	if !bytes.Equal(signer, []byte(s.doc.Pending)) {
		return conflictf("a confirm must be signed with the offered secret")
	}
	doc := secretsDoc{Version: secretsVersion, Current: s.doc.Pending}
	for _, c := range s.configured {
		if d := digest(c); !bytes.Equal(c, signer) && !slices.Contains(doc.Retired, d) {
			doc.Retired = append(doc.Retired, d)
		}
	}
	return s.commitLocked(doc)
}

// commitLocked saves doc, then makes it the set's and applies it. On a
// failure to save nothing changes. s.mu must be held.
func (s *secretSet) commitLocked(doc secretsDoc) error {
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding secrets: %w", err)
	}
	if err := writeFileAtomic(s.path, data); err != nil {
		return fmt.Errorf("saving secrets: %w", err)
	}
	s.doc = doc
	return s.apply(s.acceptedLocked())
}

// rotationState is what the set holds, for tests and logs: whether a
// rotation installed a secret and whether one is pending.
func (s *secretSet) rotationState() (rotated, pending bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.doc.Current != "", s.doc.Pending != ""
}

func cloneSecrets(secrets [][]byte) [][]byte {
	out := make([][]byte, len(secrets))
	for i, s := range secrets {
		out[i] = bytes.Clone(s)
	}
	return out
}

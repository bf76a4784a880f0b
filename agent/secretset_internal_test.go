package agent

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// applied records what a secretSet installed, as the Verifier would hold it.
type applied struct{ secrets [][]byte }

func (a *applied) set(s [][]byte) error {
	a.secrets = cloneSecrets(s)
	return nil
}

// accepts reports whether secret is among the installed ones.
func (a *applied) accepts(secret string) bool {
	for _, s := range a.secrets {
		if bytes.Equal(s, []byte(secret)) {
			return true
		}
	}
	return false
}

func (a *applied) want(t *testing.T, step string, accepted, refused []string) {
	t.Helper()
	for _, s := range accepted {
		if !a.accepts(s) {
			t.Errorf("%s: %s is not accepted", step, s[:8])
		}
	}
	for _, s := range refused {
		if a.accepts(s) {
			t.Errorf("%s: %s is still accepted", step, s[:8])
		}
	}
}

const (
	oldSecret  = "old-secret-0123456789abcdef"
	newSecret  = "new-secret-0123456789abcdef"
	nextSecret = "next-secret-0123456789abcdef"
	extra      = "extra-secret-0123456789abcdef"
)

func secrets(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// TestSecretSetRotation walks a rotation, reloading the set from its file
// after every step as a restart would, and checks which secrets are
// accepted at each point.
func TestSecretSetRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), SecretsFile)
	var ap applied
	load := func(step string) *secretSet {
		t.Helper()
		ap = applied{}
		s, err := loadSecretSet(path, secrets(oldSecret), ap.set)
		if err != nil {
			t.Fatalf("%s: loading: %v", step, err)
		}
		return s
	}
	s := load("first start")
	ap.want(t, "first start", []string{oldSecret}, []string{newSecret})
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a set without rotation wrote its file: %v", err)
	}

	if err := s.offer([]byte(oldSecret), []byte(newSecret)); err != nil {
		t.Fatalf("offer: %v", err)
	}
	ap.want(t, "offered", []string{oldSecret, newSecret}, nil)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file after offer: %v, mode %v", err, st.Mode())
	}
	// The same offer again (a controller that lost the answer) is fine.
	if err := s.offer([]byte(oldSecret), []byte(newSecret)); err != nil {
		t.Fatalf("repeated offer: %v", err)
	}

	s = load("restart after offer")
	ap.want(t, "restart after offer", []string{oldSecret, newSecret}, nil)
	if rotated, pending := s.rotationState(); rotated || !pending {
		t.Fatalf("after offer: rotated %v, pending %v", rotated, pending)
	}

	if err := s.confirm([]byte(oldSecret)); !errors.Is(err, errConflict) {
		t.Fatalf("confirm signed with the old secret: %v, want a conflict", err)
	}
	ap.want(t, "refused confirm", []string{oldSecret, newSecret}, nil)
	if err := s.confirm([]byte(newSecret)); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	ap.want(t, "confirmed", []string{newSecret}, []string{oldSecret})
	// A repeated confirm (lost answer) is fine.
	if err := s.confirm([]byte(newSecret)); err != nil {
		t.Fatalf("repeated confirm: %v", err)
	}

	s = load("restart after confirm")
	ap.want(t, "restart after confirm", []string{newSecret}, []string{oldSecret})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(oldSecret)) {
		t.Errorf("the secrets file holds the retired secret in the clear: %s", data)
	}

	// The secret file read again (SIGHUP) with one secret added by hand:
	// the added one is accepted, the retired one stays refused.
	if err := s.setConfigured(secrets(oldSecret, extra)); err != nil {
		t.Fatal(err)
	}
	ap.want(t, "reloaded", []string{newSecret, extra}, []string{oldSecret})

	// A second rotation retires the hand-added secret as well and drops
	// the first rotation's.
	if err := s.offer([]byte(extra), []byte(nextSecret)); err != nil {
		t.Fatalf("second offer: %v", err)
	}
	if err := s.confirm([]byte(nextSecret)); err != nil {
		t.Fatalf("second confirm: %v", err)
	}
	ap.want(t, "second rotation", []string{nextSecret}, []string{oldSecret, newSecret, extra})
	ap = applied{}
	if _, err := loadSecretSet(path, secrets(oldSecret, extra), ap.set); err != nil {
		t.Fatal(err)
	}
	ap.want(t, "restart after second rotation", []string{nextSecret}, []string{oldSecret, newSecret, extra})
}

func TestSecretSetRefusals(t *testing.T) {
	path := filepath.Join(t.TempDir(), SecretsFile)
	var ap applied
	s, err := loadSecretSet(path, secrets(oldSecret, extra), ap.set)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.confirm([]byte(oldSecret)); !errors.Is(err, errConflict) || !strings.Contains(err.Error(), "no secret rotation is pending") {
		t.Errorf("confirm with nothing pending: %v", err)
	}
	if err := s.offer([]byte(oldSecret), []byte(extra)); !errors.Is(err, errConflict) {
		t.Errorf("offer of an accepted secret: %v, want a conflict", err)
	}
	if err := s.offer([]byte(oldSecret), []byte(newSecret)); err != nil {
		t.Fatal(err)
	}
	if err := s.offer([]byte(newSecret), []byte(nextSecret)); !errors.Is(err, errConflict) {
		t.Errorf("offer signed with the pending secret: %v, want a conflict", err)
	}
	// Another offer signed with an established secret replaces the
	// pending one (the controller lost the first).
	if err := s.offer([]byte(oldSecret), []byte(nextSecret)); err != nil {
		t.Fatal(err)
	}
	ap.want(t, "replaced offer", []string{oldSecret, extra, nextSecret}, []string{newSecret})
	if err := s.confirm([]byte(newSecret)); !errors.Is(err, errConflict) {
		t.Errorf("confirm signed with the replaced secret: %v, want a conflict", err)
	}
}

func TestSecretSetFileChecks(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"truncated", `{"version":1,"pending":"abc`, 0o600, "corrupt secrets file"},
		{"unknown field", `{"version":1,"secret":"x"}`, 0o600, "corrupt secrets file"},
		{"future version", `{"version":2}`, 0o600, "unsupported version"},
		{"short secret", `{"version":1,"current":"short"}`, 0o600, "current secret is 5 bytes"},
		{"bad digest", `{"version":1,"current":"` + newSecret + `","retired":["AB"]}`, 0o600, "retired[0]"},
		{"retired without current", `{"version":1,"retired":["` + digest([]byte(oldSecret)) + `"]}`, 0o600, "no current secret"},
		{"readable by others", `{"version":1}`, 0o644, "chmod 600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), SecretsFile)
			if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			var ap applied
			_, err := loadSecretSet(path, secrets(oldSecret), ap.set)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("loading %s: %v, want an error saying %q", tc.name, err, tc.want)
			}
			if ap.secrets != nil {
				t.Errorf("a refused file installed secrets")
			}
		})
	}
}

// TestSecretSetSaveFailureChangesNothing: an offer that cannot be saved
// is refused and accepts nothing new.
func TestSecretSetSaveFailureChangesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var ap applied
	s, err := loadSecretSet(filepath.Join(dir, SecretsFile), secrets(oldSecret), ap.set)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.offer([]byte(oldSecret), []byte(newSecret)); err == nil {
		t.Fatal("an offer that could not be saved succeeded")
	}
	ap.want(t, "unsaved offer", []string{oldSecret}, []string{newSecret})
	if _, pending := s.rotationState(); pending {
		t.Error("an unsaved offer is pending")
	}
}

func FuzzDecodeSecrets(f *testing.F) {
	f.Add([]byte(`{"version":1,"current":"` + newSecret + `","pending":"` + nextSecret + `","retired":["` + digest([]byte(oldSecret)) + `"]}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := decodeSecrets(data)
		if err != nil {
			return
		}
		if doc.Current == "" && len(doc.Retired) > 0 {
			t.Fatal("accepted a file that retires secrets without a replacement")
		}
	})
}

package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Unit is the [Service] section of a systemd unit, with its drop-ins
// applied, as a test runs it: its command line and environment with the
// specifiers substituted.
type Unit struct {
	// ExecStart is the command line, split as systemd splits it.
	ExecStart []string
	// Env are the Environment= assignments, KEY=VALUE, in order (a later
	// one of the same key wins, as in systemd).
	Env []string
	// Keys holds every [Service] key's values in order, unsubstituted.
	Keys map[string][]string
}

// ParseUnit reads a unit file and its drop-ins (in order) and substitutes
// the specifiers in ExecStart and Environment: %% is %, and each other
// one is looked up in spec (like 'd' for $CREDENTIALS_DIRECTORY or 'S'
// for the state directory root). An unknown specifier fails the test, so
// a unit cannot use one the test does not stand in for.
func ParseUnit(t testing.TB, spec map[byte]string, files ...string) Unit {
	t.Helper()
	u := Unit{Keys: map[string][]string{}}
	for _, f := range files {
		if err := readUnitFile(f, u.Keys); err != nil {
			t.Fatal(err)
		}
	}
	exec := u.Keys["ExecStart"]
	if len(exec) != 1 {
		t.Fatalf("%s: %d ExecStart= lines, want 1", files[0], len(exec))
	}
	line, err := substituteSpecifiers(exec[0], spec)
	if err != nil {
		t.Fatalf("ExecStart: %v", err)
	}
	if strings.ContainsAny(line[:1], "-@+!:|") {
		t.Fatalf("ExecStart %q has a prefix the test does not run", line)
	}
	if u.ExecStart, err = splitUnitWords(line); err != nil || len(u.ExecStart) == 0 {
		t.Fatalf("ExecStart %q: %v", line, err)
	}
	for _, e := range u.Keys["Environment"] {
		e, err := substituteSpecifiers(e, spec)
		if err != nil {
			t.Fatalf("Environment: %v", err)
		}
		words, err := splitUnitWords(e)
		if err != nil {
			t.Fatalf("Environment %q: %v", e, err)
		}
		for _, w := range words {
			if !strings.Contains(w, "=") {
				t.Fatalf("Environment %q: %q is not KEY=VALUE", e, w)
			}
			u.Env = append(u.Env, w)
		}
	}
	return u
}

// readUnitFile adds the [Service] assignments of path to keys. An empty
// assignment (Key=) resets the key, as in systemd.
func readUnitFile(path string, keys map[string][]string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		for strings.HasSuffix(line, "\\") && sc.Scan() { // continuation
			line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(sc.Text())
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("%s:%d: %q is not Key=Value", path, n, line)
		}
		if section != "Service" {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if v == "" {
			delete(keys, k)
			continue
		}
		keys[k] = append(keys[k], v)
	}
	return sc.Err()
}

// substituteSpecifiers replaces %X in s from spec; %% is %.
func substituteSpecifiers(s string, spec map[byte]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%q ends in %%", s)
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
			continue
		}
		v, ok := spec[s[i]]
		if !ok {
			return "", fmt.Errorf("%q uses the specifier %%%c, which the test does not stand in for", s, s[i])
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// splitUnitWords splits a command line or an Environment= value into
// words as systemd does for the forms a unit here uses: whitespace
// separates, double or single quotes group, backslash escapes the next
// character.
func splitUnitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote byte
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// VerifyUnit runs `systemd-analyze verify` on a copy of the unit file at
// path, with its drop-ins (installed as NAME.d/*.conf beside it), and with
// the program of its ExecStart replaced by bin (verify checks that it
// exists). Any warning fails the test. Without systemd-analyze the test is
// skipped (failed with WGFLEET_REQUIRE_ALL): run it in a subtest of its
// own.
func VerifyUnit(t *testing.T, path, program, bin string, dropIns ...string) {
	t.Helper()
	analyze := RequireCommand(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "ExecStart="+program) {
		t.Fatalf("%s: ExecStart does not run %s", path, program)
	}
	unit := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(data), "ExecStart="+program, "ExecStart="+bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(dropIns) > 0 {
		d := unit + ".d"
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range dropIns {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(f)
			if !strings.HasSuffix(name, ".conf") {
				name += ".conf"
			}
			if err := os.WriteFile(filepath.Join(d, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := exec.Command(analyze, "verify", "--man=no", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", filepath.Base(path), err, out)
	}
}

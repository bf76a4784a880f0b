package testenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// ImageStage is what one stage of a Dockerfile gives the container it
// runs, with what it inherits from the stage it is built FROM.
type ImageStage struct {
	Name        string
	Env         []string // KEY=VALUE, in order
	User        string
	Entrypoint  []string
	Cmd         []string
	Healthcheck []string // the CMD of HEALTHCHECK
	Expose      []string // like "10086/tcp"
	Volumes     []string
}

// ParseDockerfile reads the stages of a Dockerfile. Only the exec (JSON)
// form of ENTRYPOINT, CMD, HEALTHCHECK CMD and VOLUME is accepted, the
// form whose command line a test can run exactly as Docker does.
func ParseDockerfile(t testing.TB, path string) map[string]ImageStage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stages := map[string]ImageStage{}
	var cur *ImageStage
	jsonList := func(instr, s string) []string {
		var out []string
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			t.Fatalf("%s: %s %s is not in exec (JSON) form", path, instr, s)
		}
		return out
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		for strings.HasSuffix(line, "\\") && sc.Scan() {
			line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(sc.Text())
		}
		if line == "" || line[0] == '#' {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		instr, rest = strings.ToUpper(instr), strings.TrimSpace(rest)
		if instr == "FROM" {
			fields := strings.Fields(rest)
			st := ImageStage{}
			if parent, ok := stages[fields[0]]; ok {
				st = parent
				st.Env = append([]string(nil), parent.Env...)
				st.Expose = append([]string(nil), parent.Expose...)
				st.Volumes = append([]string(nil), parent.Volumes...)
			}
			st.Name = ""
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.Name = fields[2]
			}
			cur = &st
			stages[st.Name] = st
			continue
		}
		if cur == nil {
			continue // ARG before the first FROM
		}
		switch instr {
		case "ENV":
			words, err := splitUnitWords(rest)
			if err != nil {
				t.Fatalf("%s: ENV %s: %v", path, rest, err)
			}
			for _, w := range words {
				if !strings.Contains(w, "=") {
					t.Fatalf("%s: ENV %s: use the KEY=VALUE form", path, rest)
				}
				cur.Env = append(cur.Env, w)
			}
		case "USER":
			cur.User = rest
		case "ENTRYPOINT":
			cur.Entrypoint = jsonList(instr, rest)
			cur.Cmd = nil // as Docker does
		case "CMD":
			cur.Cmd = jsonList(instr, rest)
		case "HEALTHCHECK":
			i := strings.Index(rest, "CMD ")
			if i < 0 {
				t.Fatalf("%s: HEALTHCHECK %s has no CMD", path, rest)
			}
			cur.Healthcheck = jsonList(instr, strings.TrimSpace(rest[i+len("CMD "):]))
		case "EXPOSE":
			cur.Expose = append(cur.Expose, strings.Fields(rest)...)
		case "VOLUME":
			cur.Volumes = append(cur.Volumes, jsonList(instr, rest)...)
		}
		stages[cur.Name] = *cur
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

// Getenv looks key up in the stage's environment (the last assignment wins).
func (s ImageStage) Getenv(key string) string {
	v := ""
	for _, e := range s.Env {
		if k, val, _ := strings.Cut(e, "="); k == key {
			v = val
		}
	}
	return v
}

// UserIDs is the numeric uid and gid of USER ("10001:10001"); the test
// fails for a name, which it could not resolve without the image.
func (s ImageStage) UserIDs(t testing.TB) (uint32, uint32) {
	t.Helper()
	var uid, gid uint32
	if _, err := fmt.Sscanf(s.User, "%d:%d", &uid, &gid); err != nil {
		t.Fatalf("stage %s: USER %q is not numeric uid:gid", s.Name, s.User)
	}
	return uid, gid
}

package cli

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// testFlags is a small command: a string the config file may also set,
// an int, a duration, a bool and a list.
type testFlags struct {
	s     *Set
	name  *Flag[string]
	port  *Flag[int]
	wait  *Flag[time.Duration]
	on    *Flag[bool]
	items *Flag[[]int]
}

func newTestFlags(out io.Writer) testFlags {
	s := NewSet("test", out)
	return testFlags{
		s:     s,
		name:  String(s, "name", "T_NAME", "dflt", "a name"),
		port:  Int(s, "port", "T_PORT", 7, "a port"),
		wait:  Duration(s, "wait", "T_WAIT", time.Second, "a wait"),
		on:    Bool(s, "on", "T_ON", false, "a switch"),
		items: List(s, "item", "T_ITEM", ParseInt, "an item"),
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		file       string
		want       string
		wantSource Source
	}{
		{"default", nil, nil, "", "dflt", SourceDefault},
		{"file over default", nil, nil, "from-file", "from-file", SourceFile},
		{"env over file", nil, map[string]string{"T_NAME": "from-env"}, "from-file", "from-env", SourceEnv},
		{"flag over env", []string{"--name", "from-flag"}, map[string]string{"T_NAME": "from-env"}, "from-file", "from-flag", SourceFlag},
		{"empty flag over file", []string{"--name", ""}, nil, "from-file", "", SourceFlag},
		{"empty env is unset", nil, map[string]string{"T_NAME": ""}, "from-file", "from-file", SourceFile},
		{"file left out", nil, nil, "", "dflt", SourceDefault},
		{"last flag wins", []string{"--name", "a", "-name=b"}, nil, "", "b", SourceFlag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFlags(io.Discard)
			if err := f.s.Parse(tt.args, envOf(tt.env)); err != nil {
				t.Fatal(err)
			}
			FromFile(f.name, tt.file)
			if got := f.name.Get(); got != tt.want {
				t.Errorf("value %q, want %q", got, tt.want)
			}
			if got := f.name.Source(); got != tt.wantSource {
				t.Errorf("source %d, want %d", got, tt.wantSource)
			}
			if got, want := f.name.Given(), tt.wantSource >= SourceEnv; got != want {
				t.Errorf("Given() %v, want %v", got, want)
			}
		})
	}
}

func TestTypes(t *testing.T) {
	f := newTestFlags(io.Discard)
	err := f.s.Parse([]string{"--port", "9", "--wait=90s", "--on", "--item", "1", "--item", "2"},
		envOf(map[string]string{"T_PORT": "8", "T_ITEM": "5"}))
	if err != nil {
		t.Fatal(err)
	}
	if f.port.Get() != 9 {
		t.Errorf("port %d, want 9 from the flag", f.port.Get())
	}
	if f.wait.Get() != 90*time.Second {
		t.Errorf("wait %v, want 90s", f.wait.Get())
	}
	if !f.on.Get() {
		t.Error("a bool flag standing alone is not true")
	}
	if got := f.items.Get(); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("items %v, want the command line's [1 2] in place of the environment's", got)
	}

	f = newTestFlags(io.Discard)
	err = f.s.Parse([]string{"--on=false"}, envOf(map[string]string{
		"T_PORT": "8", "T_WAIT": "2m", "T_ON": "true", "T_ITEM": " 3, 4 ,5",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if f.port.Get() != 8 || f.port.Source() != SourceEnv {
		t.Errorf("port %d from %d, want 8 from the environment", f.port.Get(), f.port.Source())
	}
	if f.wait.Get() != 2*time.Minute {
		t.Errorf("wait %v, want 2m", f.wait.Get())
	}
	if f.on.Get() {
		t.Error("--on=false lost to T_ON=true")
	}
	if got := f.items.Get(); len(got) != 3 || got[0] != 3 || got[2] != 5 {
		t.Errorf("items %v, want [3 4 5] from the comma-separated environment", got)
	}

	f = newTestFlags(io.Discard)
	if err := f.s.Parse(nil, nil); err != nil {
		t.Fatal(err)
	}
	if f.port.Get() != 7 || f.wait.Get() != time.Second || f.on.Get() || f.items.Get() != nil {
		t.Errorf("defaults: port %d wait %v on %v items %v", f.port.Get(), f.wait.Get(), f.on.Get(), f.items.Get())
	}
}

// TestErrorsNameTheirSource: every bad value is reported, at once, with
// the flag or environment variable it came from.
func TestErrorsNameTheirSource(t *testing.T) {
	f := newTestFlags(io.Discard)
	err := f.s.Parse([]string{"--port", "seven", "--item", "1", "--item", "x"}, envOf(map[string]string{
		"T_WAIT": "soon", "T_ON": "maybe", "T_PORT": "ignored: the flag is given",
	}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`--port: "seven" is not a number`,
		`--item: "x" is not a number`,
		`T_WAIT: "soon" is not a duration`,
		`T_ON: "maybe" is not true or false`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "T_PORT") {
		t.Errorf("error %q reports an environment variable the command line overrode", err)
	}
	f = newTestFlags(io.Discard)
	if err := f.s.Parse(nil, envOf(map[string]string{"T_ITEM": "1,,2"})); err == nil || !strings.Contains(err.Error(), `T_ITEM: "" is not a number`) {
		t.Errorf("empty list element: %v", err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown flag":      {"--nope"},
		"missing value":     {"--port"},
		"extra argument":    {"--port", "1", "serve"},
		"argument first":    {"serve", "--port", "1"},
		"bool takes no arg": {"--on", "true"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newTestFlags(io.Discard)
			err := f.s.Parse(args, nil)
			if err == nil || errors.Is(err, flag.ErrHelp) {
				t.Fatalf("error %v, want a syntax error", err)
			}
		})
	}
}

func TestNoEnvironment(t *testing.T) {
	s := NewSet("test", io.Discard)
	quiet := String(s, "quiet", "", "dflt", "reads no environment")
	if err := s.Parse(nil, envOf(map[string]string{"": "x", "QUIET": "x"})); err != nil {
		t.Fatal(err)
	}
	if quiet.Get() != "dflt" {
		t.Fatalf("a flag without an environment variable read %q", quiet.Get())
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	f := newTestFlags(&out)
	f.s.SetUsage("usage: test [flags]\n\nDoes a test.")
	if err := f.s.Parse([]string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{
		"Does a test.",
		"--name string\n", "a name (env T_NAME; default \"dflt\")",
		"--port int\n", "(env T_PORT; default 7)",
		"--wait duration\n", "default 1s",
		"--on\n", "a switch (env T_ON)",
		"--item value\n", "(repeatable; env T_ITEM, comma-separated)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help does not say %q:\n%s", want, out.String())
		}
	}
	if strings.Index(out.String(), "--item") > strings.Index(out.String(), "--wait") {
		t.Errorf("help is not in name order:\n%s", out.String())
	}
}

func TestFromFileZeroIsLeftOut(t *testing.T) {
	f := newTestFlags(io.Discard)
	if err := f.s.Parse(nil, nil); err != nil {
		t.Fatal(err)
	}
	FromFile(f.port, 0)
	if f.port.Get() != 7 || f.port.Source() != SourceDefault {
		t.Fatalf("a zero file value replaced the default: %d from %d", f.port.Get(), f.port.Source())
	}
	FromFile(f.port, 9)
	if f.port.Get() != 9 || f.port.Source() != SourceFile {
		t.Fatalf("the file's value was not taken: %d from %d", f.port.Get(), f.port.Source())
	}
}

// TestParseArgs: positional arguments may stand anywhere among the flags,
// "--" makes the rest positional, and values still come from the
// environment.
func TestParseArgs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantPos  []string
		wantName string
		wantOn   bool
	}{
		{"none", nil, nil, "dflt", false},
		{"before the flags", []string{"7", "--name", "x"}, []string{"7"}, "x", false},
		{"between and after", []string{"--on", "a", "--name", "x", "b"}, []string{"a", "b"}, "x", true},
		{"double dash", []string{"--name", "x", "--", "--on", "c"}, []string{"--on", "c"}, "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFlags(io.Discard)
			pos, err := f.s.ParseArgs(tt.args, envOf(map[string]string{"T_PORT": "9"}))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(pos, "|") != strings.Join(tt.wantPos, "|") {
				t.Errorf("positional %q, want %q", pos, tt.wantPos)
			}
			if f.name.Get() != tt.wantName || f.on.Get() != tt.wantOn || f.port.Get() != 9 {
				t.Errorf("name %q on %v port %d, want %q %v 9 (from the environment)", f.name.Get(), f.on.Get(), f.port.Get(), tt.wantName, tt.wantOn)
			}
		})
	}
	f := newTestFlags(io.Discard)
	if _, err := f.s.ParseArgs([]string{"7", "--nope"}, nil); err == nil || errors.Is(err, flag.ErrHelp) {
		t.Errorf("an unknown flag after a positional argument: %v", err)
	}
	f = newTestFlags(io.Discard)
	if _, err := f.s.ParseArgs([]string{"7", "-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h after a positional argument: %v, want flag.ErrHelp", err)
	}
}

package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Source says where a flag's value came from, from weakest to strongest.
type Source uint8

const (
	SourceDefault Source = iota // nothing set it
	SourceFile                  // a config file (FromFile)
	SourceEnv                   // the flag's environment variable
	SourceFlag                  // the command line
)

// Set is one command's flags. Make it with NewSet, add flags with String,
// Int, Duration, Bool, Var or List, then call Parse once.
type Set struct {
	name  string
	out   io.Writer
	fs    *flag.FlagSet
	intro string
	flags []*entry
}

// entry is what the Set knows of one flag, whatever its type.
type entry struct {
	name, env, usage string
	kind             string // placeholder in the help: "string", "int"...; "" for none
	def              string // default as shown in the help; "" shows none
	list             bool
	isBool           bool     // stands alone on the command line: --secure-cookies
	args             []string // values given on the command line, in order
	source           Source
	apply            func(vals []string) error // parse and store; a list gets every value
}

// NewSet returns an empty set for the command name ("wg-agent",
// "wg-controller serve"); help and flag syntax errors go to out.
func NewSet(name string, out io.Writer) *Set {
	s := &Set{name: name, out: out, fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	s.fs.SetOutput(out)
	s.fs.Usage = s.printUsage
	return s
}

// SetUsage replaces the text printed above the flags by -h; the default is
// "usage: NAME [flags]".
func (s *Set) SetUsage(text string) { s.intro = text }

// add registers e on the command line.
func (s *Set) add(e *entry) {
	s.flags = append(s.flags, e)
	s.fs.Var(rawValue{e}, e.name, e.usage)
}

// Parse reads args, then the environment through getenv (nil reads
// none) for every flag the command line left out. It returns flag.ErrHelp
// after printing the help for -h or --help, an error for a syntax error
// or a positional argument, and otherwise every bad value at once, each
// naming its flag or environment variable.
func (s *Set) Parse(args []string, getenv func(string) string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	if s.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", s.fs.Arg(0))
	}
	return s.resolve(getenv)
}

// ParseArgs is Parse for a command that takes positional arguments
// (`peer show 7 --json`): they may stand before, between or after the
// flags, and everything after "--" is positional. It returns them in
// order; how many a command takes is the command's to check.
func (s *Set) ParseArgs(args []string, getenv func(string) string) ([]string, error) {
	var pos []string
	for rest := args; ; {
		if err := s.fs.Parse(rest); err != nil {
			return nil, err
		}
		left := s.fs.Args()
		if consumed := len(rest) - len(left); consumed > 0 && rest[consumed-1] == "--" {
			pos = append(pos, left...) // "--" ends the flags
			break
		}
		if len(left) == 0 {
			break
		}
		pos, rest = append(pos, left[0]), left[1:]
	}
	return pos, s.resolve(getenv)
}

// resolve parses every flag's value from the command line, else from the
// environment through getenv (nil reads none).
func (s *Set) resolve(getenv func(string) string) error {
	var errs []error
	for _, e := range s.flags {
		if len(e.args) > 0 {
			e.source = SourceFlag
			vals := e.args
			if !e.list {
				vals = vals[len(vals)-1:] // the last one wins, as with package flag
			}
			if err := e.apply(vals); err != nil {
				errs = append(errs, fmt.Errorf("--%s: %w", e.name, err))
			}
			continue
		}
		if e.env == "" || getenv == nil {
			continue
		}
		v := getenv(e.env)
		if v == "" {
			continue
		}
		e.source = SourceEnv
		vals := []string{v}
		if e.list {
			vals = strings.Split(v, ",")
			for i := range vals {
				vals[i] = strings.TrimSpace(vals[i])
			}
		}
		if err := e.apply(vals); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.env, err))
		}
	}
	return errors.Join(errs...)
}

// printUsage writes the help: the intro, then every flag in name order
// with its environment variable and default.
func (s *Set) printUsage() {
	intro := s.intro
	if intro == "" {
		intro = "usage: " + s.name + " [flags]"
	}
	fmt.Fprintln(s.out, intro)
	if len(s.flags) == 0 {
		return
	}
	fmt.Fprintln(s.out, "\nflags:")
	sorted := append([]*entry(nil), s.flags...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, e := range sorted {
		line := "  --" + e.name
		if e.kind != "" {
			line += " " + e.kind
		}
		var notes []string
		if e.list {
			notes = append(notes, "repeatable")
		}
		if e.env != "" {
			env := "env " + e.env
			if e.list {
				env += ", comma-separated"
			}
			notes = append(notes, env)
		}
		if e.def != "" {
			notes = append(notes, "default "+e.def)
		}
		usage := e.usage
		if len(notes) > 0 {
			usage += " (" + strings.Join(notes, "; ") + ")"
		}
		fmt.Fprintf(s.out, "%s\n    \t%s\n", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
	}
}

// rawValue is the flag.Value the FlagSet holds: it only records what the
// command line says, so that Parse can parse it knowing the source.
type rawValue struct{ e *entry }

func (r rawValue) String() string {
	if r.e == nil {
		return ""
	}
	return r.e.def
}

func (r rawValue) Set(v string) error {
	r.e.args = append(r.e.args, v)
	return nil
}

// IsBoolFlag lets a bool flag stand alone (--secure-cookies).
func (r rawValue) IsBoolFlag() bool { return r.e != nil && r.e.isBool }

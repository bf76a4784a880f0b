package cli

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// Flag is one typed flag of a Set. Its value is the default until Parse
// (or FromFile) sets it.
type Flag[T any] struct {
	e     *entry
	value T
}

// Get returns the flag's value.
func (f *Flag[T]) Get() T { return f.value }

// Name is the flag's name without dashes.
func (f *Flag[T]) Name() string { return f.e.name }

// Source says where the value came from.
func (f *Flag[T]) Source() Source { return f.e.source }

// Given reports whether the command line or the environment set the flag.
func (f *Flag[T]) Given() bool { return f.e.source >= SourceEnv }

// FromFile sets f to v, a value read from a config file, unless the
// command line or the environment set f or v is the zero value (a field
// the file leaves out).
func FromFile[T comparable](f *Flag[T], v T) {
	var zero T
	if f.Given() || v == zero {
		return
	}
	f.value = v
	f.e.source = SourceFile
}

// Var adds a flag of any type: parse reads one value and its error should
// name the value; env is its environment variable, "" for none. The
// placeholder in the help is "value".
func Var[T any](s *Set, name, env string, def T, parse func(string) (T, error), usage string) *Flag[T] {
	f := &Flag[T]{value: def}
	e := &entry{name: name, env: env, usage: usage, kind: "value", def: showDefault(def)}
	e.apply = func(vals []string) error {
		v, err := parse(vals[0])
		if err != nil {
			return err
		}
		f.value = v
		return nil
	}
	f.e = e
	s.add(e)
	return f
}

// List adds a repeatable flag: every --name adds a value, and its
// environment variable holds comma-separated values. A list given on the
// command line replaces the environment's; none leaves the value nil.
func List[T any](s *Set, name, env string, parse func(string) (T, error), usage string) *Flag[[]T] {
	f := &Flag[[]T]{}
	e := &entry{name: name, env: env, usage: usage, kind: "value", list: true}
	e.apply = func(vals []string) error {
		out := make([]T, 0, len(vals))
		var errs []error
		for _, s := range vals {
			v, err := parse(s)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, v)
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		f.value = out
		return nil
	}
	f.e = e
	s.add(e)
	return f
}

// String adds a string flag.
func String(s *Set, name, env, def, usage string) *Flag[string] {
	f := Var(s, name, env, def, func(v string) (string, error) { return v, nil }, usage)
	f.e.kind = "string"
	if def != "" {
		f.e.def = strconv.Quote(def)
	}
	return f
}

// Int adds a decimal integer flag.
func Int(s *Set, name, env string, def int, usage string) *Flag[int] {
	f := Var(s, name, env, def, ParseInt, usage)
	f.e.kind = "int"
	return f
}

// Int64 adds a decimal 64-bit integer flag.
func Int64(s *Set, name, env string, def int64, usage string) *Flag[int64] {
	f := Var(s, name, env, def, func(v string) (int64, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", v)
		}
		return n, nil
	}, usage)
	f.e.kind = "int"
	return f
}

// Duration adds a flag read by time.ParseDuration ("90s", "1h").
func Duration(s *Set, name, env string, def time.Duration, usage string) *Flag[time.Duration] {
	f := Var(s, name, env, def, ParseDuration, usage)
	f.e.kind = "duration"
	return f
}

// Bool adds a flag that stands alone (--name) or takes true or false
// (--name=false); its environment variable is read by strconv.ParseBool.
func Bool(s *Set, name, env string, def bool, usage string) *Flag[bool] {
	f := Var(s, name, env, def, func(v string) (bool, error) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%q is not true or false", v)
		}
		return b, nil
	}, usage)
	f.e.kind, f.e.isBool = "", true
	return f
}

// ParseInt reads a decimal int.
func ParseInt(v string) (int, error) {
	n, err := strconv.ParseInt(v, 10, strconv.IntSize)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", v)
	}
	return int(n), nil
}

// ParseDuration reads a Go duration.
func ParseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 90s or 1h)", v)
	}
	return d, nil
}

// showDefault is def as the help shows it; "" for a zero value.
func showDefault[T any](def T) string {
	if reflect.ValueOf(&def).Elem().IsZero() {
		return ""
	}
	if s, ok := any(def).(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprint(def)
}

package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// LogFormat is how log lines are written.
type LogFormat string

// The log formats.
const (
	LogText LogFormat = "text" // slog's key=value lines
	LogJSON LogFormat = "json" // one JSON object per line
)

// ParseLogFormat reads text or json.
func ParseLogFormat(v string) (LogFormat, error) {
	switch f := LogFormat(v); f {
	case LogText, LogJSON:
		return f, nil
	}
	return "", fmt.Errorf("log format %q: must be text or json", v)
}

// ParseLogLevel reads debug, info, warn or error (slog's names, any case,
// with an optional offset such as info+2).
func ParseLogLevel(v string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		return 0, fmt.Errorf("log level %q: must be debug, info, warn or error", v)
	}
	return l, nil
}

// NewLogger returns a logger writing lines of format f at level l and
// above to w.
func NewLogger(w io.Writer, f LogFormat, l slog.Level) *slog.Logger {
	ho := &slog.HandlerOptions{Level: l}
	if f == LogJSON {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// Logging is a command's --log-format and --log-level flags.
type Logging struct {
	Format *Flag[LogFormat]
	Level  *Flag[slog.Level]
}

// LogFlags adds --log-format (default text) and --log-level (default
// info) to s, read from the environment variables formatEnv and levelEnv
// when the command line leaves them out.
func LogFlags(s *Set, formatEnv, levelEnv string) Logging {
	l := Logging{
		Format: Var(s, "log-format", formatEnv, LogText, ParseLogFormat, "log format: text or json"),
		Level:  LogLevel(s, levelEnv, slog.LevelInfo),
	}
	l.Format.e.kind = "string"
	return l
}

// LogLevel adds only --log-level, with its default, read from the
// environment variable env ("" for none).
func LogLevel(s *Set, env string, def slog.Level) *Flag[slog.Level] {
	f := Var(s, "log-level", env, def, ParseLogLevel, "log level: debug, info, warn, error")
	f.e.kind = "string"
	f.e.def = strings.ToLower(def.String()) // info is the zero value, shown all the same
	return f
}

// Logger returns the logger the flags describe, writing to w.
func (l Logging) Logger(w io.Writer) *slog.Logger {
	return NewLogger(w, l.Format.Get(), l.Level.Get())
}

package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestLogFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, out string)
	}{
		{"defaults: text at info", nil, nil, "", func(t *testing.T, out string) {
			if !strings.Contains(out, "level=INFO msg=shown") || strings.Contains(out, "hidden") {
				t.Errorf("output %q, want text at info", out)
			}
		}},
		{"json at debug from the environment", nil, map[string]string{"L_FORMAT": "json", "L_LEVEL": "debug"}, "", func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 {
				t.Fatalf("%d lines, want 2 at debug: %q", len(lines), out)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &m); err != nil || m["msg"] != "hidden" {
				t.Errorf("first line %q is not the JSON debug line: %v", lines[0], err)
			}
		}},
		{"flags over environment", []string{"--log-level", "error"}, map[string]string{"L_LEVEL": "debug"}, "", func(t *testing.T, out string) {
			if out != "" {
				t.Errorf("output %q at level error", out)
			}
		}},
		{"bad format", []string{"--log-format", "xml"}, nil, `--log-format: log format "xml": must be text or json`, nil},
		{"bad level", nil, map[string]string{"L_LEVEL": "loud"}, `L_LEVEL: log level "loud": must be debug, info, warn or error`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSet("test", io.Discard)
			l := LogFlags(s, "L_FORMAT", "L_LEVEL")
			err := s.Parse(tt.args, envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			log := l.Logger(&buf)
			log.Debug("hidden")
			log.Info("shown")
			tt.check(t, buf.String())
		})
	}
}

func TestLogLevelDefault(t *testing.T) {
	var help bytes.Buffer
	s := NewSet("test", &help)
	level := LogLevel(s, "", slog.LevelWarn)
	if err := s.Parse(nil, nil); err != nil || level.Get() != slog.LevelWarn {
		t.Fatalf("level %v, %v; want warn", level.Get(), err)
	}
	s = NewSet("test", &help)
	LogLevel(s, "", slog.LevelWarn)
	if err := s.Parse([]string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(help.String(), "default warn") {
		t.Errorf("help does not show the default:\n%s", help.String())
	}
}

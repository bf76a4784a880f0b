package tunnel

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/device"
)

func TestDeviceLogger(t *testing.T) {
	key := hexOf(testKey(3))
	tests := []struct {
		name  string
		level slog.Level // handler level
		log   func(l *device.Logger)
		want  string // "" when nothing may be logged
	}{
		{
			name:  "verbose is debug",
			level: slog.LevelDebug,
			log:   func(l *device.Logger) { l.Verbosef("%v - UAPI: Created", "peer(abc…)") },
			want:  "level=DEBUG msg=\"peer(abc…) - UAPI: Created\"",
		},
		{
			name:  "error is error",
			level: slog.LevelDebug,
			log:   func(l *device.Logger) { l.Errorf("Failed to write packets to TUN device: %v", "boom") },
			want:  "level=ERROR msg=\"Failed to write packets to TUN device: boom\"",
		},
		{
			name:  "debug hidden at info",
			level: slog.LevelInfo,
			log:   func(l *device.Logger) { l.Verbosef("Device closing") },
		},
		{
			name:  "keepalive chatter dropped",
			level: slog.LevelDebug,
			log:   func(l *device.Logger) { l.Verbosef("%v - Sending keepalive packet", "peer(x)") },
		},
		{
			name:  "worker chatter dropped",
			level: slog.LevelDebug,
			log:   func(l *device.Logger) { l.Verbosef("Routine: encryption worker %d - started", 1) },
		},
		{
			name:  "handshake retries dropped",
			level: slog.LevelDebug,
			log: func(l *device.Logger) {
				l.Verbosef("%s - Handshake did not complete after %d seconds, retrying (try %d)", "peer(x)", 5, 2)
			},
		},
		{
			name:  "keys redacted",
			level: slog.LevelDebug,
			log:   func(l *device.Logger) { l.Errorf("failed to parse line %q", "private_key="+key) },
			want:  `msg="failed to parse line \"private_key=[redacted]\""`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.level}))
			tt.log(newDeviceLog(l).logger())
			got := buf.String()
			if tt.want == "" {
				if got != "" {
					t.Fatalf("logged %q, want nothing", got)
				}
				return
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("logged %q, want it to contain %q", got, tt.want)
			}
			if strings.Contains(got, key) {
				t.Fatalf("logged a key: %q", got)
			}
		})
	}
}

func TestRedactHexKeys(t *testing.T) {
	k := strings.Repeat("ab", 32)
	tests := []struct{ in, want string }{
		{"", ""},
		{"no keys here", "no keys here"},
		{"short deadbeef", "short deadbeef"},
		{k, "[redacted]"},
		{"a=" + k + " b=" + k + "ff!", "a=[redacted] b=[redacted]!"},
		{k[:63] + "-", k[:63] + "-"},
	}
	for _, tt := range tests {
		if got := redactHexKeys(tt.in); got != tt.want {
			t.Errorf("redactHexKeys(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDeviceLogStop(t *testing.T) {
	var buf bytes.Buffer
	d := newDeviceLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l := d.logger()
	l.Errorf("before")
	d.stop()
	l.Errorf("after")
	l.Verbosef("after")
	if got := buf.String(); !strings.Contains(got, "before") || strings.Contains(got, "after") {
		t.Fatalf("logged %q, want only the line before stop", got)
	}
}

package main

import (
	"log/slog"
	"strings"
	"testing"
)

// TestLocalEndpoint: the local node's endpoint is the one given (a bare
// host gets the node's port), else the host of the public URL with the
// node's port, unless clients could not dial it (loopback, localhost):
// then a guess from this host's addresses.
func TestLocalEndpoint(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tt := range []struct{ given, publicURL, want string }{
		{"vpn.example.net:443", "https://ctl.example.net", "vpn.example.net:443"},
		{"vpn.example.net", "", "vpn.example.net:51999"},
		{"2001:db8::1", "", "[2001:db8::1]:51999"},
		{"", "https://ctl.example.net:8443/base", "ctl.example.net:51999"},
		{"", "https://[2001:db8::2]", "[2001:db8::2]:51999"},
	} {
		if got := localEndpoint(tt.given, tt.publicURL, 51999, log); got != tt.want {
			t.Errorf("localEndpoint(%q, %q) = %q, want %q", tt.given, tt.publicURL, got, tt.want)
		}
	}
	for _, pub := range []string{"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"} {
		got := localEndpoint("", pub, 51999, log)
		if strings.HasPrefix(got, "localhost:") || strings.HasPrefix(got, "[::1]:") || !strings.HasSuffix(got, ":51999") {
			t.Errorf("localEndpoint with public URL %s = %q: a loopback public URL is no endpoint", pub, got)
		}
	}
}

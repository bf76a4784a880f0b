package wgconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestWGQuickAcceptsRender hands a rendered config, under the name FileName
// gives it, to wg-quick itself: `wg-quick strip` parses the file as
// `wg-quick up` would (the file name must be an interface name, every
// wg-quick key must parse) and prints what it would give to `wg setconf`.
func TestWGQuickAcceptsRender(t *testing.T) {
	wgQuick := testenv.RequireCommand(t, "wg-quick", "wireguard-tools")
	c := fullClient(t)
	conf, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName("alice's phone (work)", 42))
	if err := os.WriteFile(path, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(wgQuick, "strip", path).CombinedOutput()
	if err != nil {
		t.Fatalf("wg-quick strip %s: %v\n%s", filepath.Base(path), err, out)
	}
	stripped := string(out)
	for _, want := range []string{"PrivateKey = " + c.PrivateKey.String(), "[Peer]", "PublicKey = " + c.ServerPublicKey.String(),
		"Endpoint = vpn.example.net:51820", "AllowedIPs = 0.0.0.0/0, ::/0", "PersistentKeepalive = 25"} {
		if !strings.Contains(stripped, want) {
			t.Errorf("wg-quick strip output lacks %q:\n%s", want, stripped)
		}
	}
	// wg-quick took Address, DNS and MTU as its own, so wg would never see them.
	for _, gone := range []string{"Address", "DNS", "MTU"} {
		if strings.Contains(stripped, gone) {
			t.Errorf("wg-quick strip left %s for wg:\n%s", gone, stripped)
		}
	}
}

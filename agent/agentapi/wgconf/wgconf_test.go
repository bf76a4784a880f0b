package wgconf_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi/wgconf"
)

func TestParse(t *testing.T) {
	doc, err := wgconf.Parse([]byte("# Name = a b\n# other\n[interface]\r\nListenPort=51820 # trailing\n\n[Peer]\n  PublicKey = abc=  \nAllowedIPs = 10.0.0.1/32, fd00::1/128\n[PEER]\n"), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Preamble) != 2 || doc.Preamble[0].Text != " Name = a b" || doc.Preamble[1].Text != " other" || doc.Preamble[1].Line != 2 {
		t.Errorf("preamble %+v", doc.Preamble)
	}
	if len(doc.Sections) != 3 || doc.Sections[0].Name != wgconf.Interface || doc.Sections[1].Name != wgconf.Peer || doc.Sections[2].Name != wgconf.Peer {
		t.Fatalf("sections: %+v", doc.Sections)
	}
	if e := doc.Sections[0].Entries[0]; e.Key != "ListenPort" || e.Value != "51820" || e.Line != 4 {
		t.Errorf("entry %+v", e)
	}
	if n, err := doc.Sections[0].Entries[0].Int(0, 65535); err != nil || n != 51820 {
		t.Errorf("Int: %d, %v", n, err)
	}
	p := doc.Sections[1]
	if e := p.Entries[0]; !e.Is("publickey") || e.Value != "abc=" {
		t.Errorf("entry %+v", e)
	}
	if l, err := p.Entries[1].List(); err != nil || strings.Join(l, " ") != "10.0.0.1/32 fd00::1/128" {
		t.Errorf("List: %q, %v", l, err)
	}
}

func TestParseRefuses(t *testing.T) {
	const secret = "SECRETVALUE"
	for name, text := range map[string]string{
		"too large":        strings.Repeat("#", 65),
		"bad utf-8":        "[Peer]\n\xff",
		"control":          "[Peer]\nA = b\x00",
		"unknown section":  "[Peers]",
		"no equals":        "[Peer]\n" + secret,
		"no key":           "[Peer]\n = " + secret,
		"outside section":  "PrivateKey = " + secret,
		"delete character": "[Peer]\x7f",
	} {
		_, err := wgconf.Parse([]byte(text), 64)
		var se *wgconf.SyntaxError
		if !errors.Is(err, wgconf.ErrInvalid) || !errors.As(err, &se) {
			t.Errorf("%s: %v, want a *SyntaxError", name, err)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error quotes the value: %v", name, err)
		}
	}
}

func TestEntryChecks(t *testing.T) {
	doc, err := wgconf.Parse([]byte("[Peer]\nPublicKey = notakey\nPersistentKeepalive = +5\nAllowedIPs = a,,b\nPublicKey = x\n"), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	s := doc.Sections[0]
	if _, err := s.Entries[0].WGKey(); err == nil || strings.Contains(err.Error(), "notakey") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("WGKey: %v", err)
	}
	if _, err := s.Entries[1].Int(0, 10); err == nil {
		t.Errorf("Int(+5) accepted")
	}
	if _, err := s.Entries[2].List(); err == nil || !strings.Contains(err.Error(), "empty entry") {
		t.Errorf("List: %v", err)
	}
	if err := s.Once("publickey"); err == nil || !strings.Contains(err.Error(), "line 5") {
		t.Errorf("Once: %v", err)
	}
	if got := wgconf.KeyName("Private Key=abc"); got != "a key" {
		t.Errorf("KeyName quotes %q", got)
	}
}

// FuzzParse: Parse never panics, and what it accepts keeps every entry's
// key and value free of what would change their meaning.
func FuzzParse(f *testing.F) {
	f.Add([]byte("[Interface]\nPrivateKey = x\nListenPort = 1\n[Peer]\nPublicKey = y\nAllowedIPs = 10.0.0.1/32, ::/0\n"))
	f.Add([]byte("# c\n[peer]\r\na=b#c\n"))
	f.Add([]byte("[Peer]\n=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := wgconf.Parse(data, 1<<16)
		if err != nil {
			if !errors.Is(err, wgconf.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, s := range doc.Sections {
			if s.Name != wgconf.Interface && s.Name != wgconf.Peer {
				t.Fatalf("section %q", s.Name)
			}
			for _, e := range s.Entries {
				if e.Key == "" || strings.ContainsAny(e.Key+e.Value, "#\n\r\x00") || strings.Contains(e.Key, "=") {
					t.Fatalf("entry %+v", e)
				}
				if strings.TrimSpace(e.Value) != e.Value && strings.Trim(e.Value, " \t") != e.Value {
					t.Fatalf("value not trimmed: %q", e.Value)
				}
			}
		}
	})
}

package auth

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/wgfleet/wgfleet/controller/store/storetest"
)

func TestBootstrapWithPassword(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	var out bytes.Buffer
	if _, err := Bootstrap(ctx, st, "short", &out); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short password: err = %v, want ErrInvalid", err)
	}
	if n, err := st.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("refused bootstrap created %d users (%v)", n, err)
	}
	created, err := Bootstrap(ctx, st, "a long admin password", &out)
	if err != nil || !created {
		t.Fatalf("Bootstrap = %v, %v", created, err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q for a given password", out.String())
	}
	a, err := New(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login(ctx, "admin", "a long admin password", "127.0.0.1:1"); err != nil {
		t.Errorf("login with the bootstrap password: %v", err)
	}
	// Once users exist, nothing changes, whatever the password.
	created, err = Bootstrap(ctx, st, "another long password", &out)
	if err != nil || created {
		t.Errorf("second Bootstrap = %v, %v; want false, nil", created, err)
	}
	if _, err := a.Login(ctx, "admin", "another long password", "127.0.0.1:1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("second bootstrap changed the password: %v", err)
	}
}

func TestBootstrapGeneratesPassword(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	var out bytes.Buffer
	created, err := Bootstrap(ctx, st, "", &out)
	if err != nil || !created {
		t.Fatalf("Bootstrap = %v, %v", created, err)
	}
	m := regexp.MustCompile(`password: ([A-Za-z0-9_-]{24})\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no generated password in %q", out.String())
	}
	a, err := New(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login(ctx, "admin", m[1], "127.0.0.1:1"); err != nil {
		t.Errorf("login with the printed password: %v", err)
	}
	out.Reset()
	if created, err := Bootstrap(ctx, st, "", &out); err != nil || created || out.Len() != 0 {
		t.Errorf("second Bootstrap = %v, %v, printed %q; want nothing", created, err, out.String())
	}
}

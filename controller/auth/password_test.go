package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestHashAndCheckPassword(t *testing.T) {
	h1, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not a PHC argon2id string with the expected parameters", h1)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if strings.Contains(h1, testPassword) {
		t.Error("hash contains the password")
	}
	for _, tc := range []struct {
		name, password string
		want           bool
	}{
		{"right", testPassword, true},
		{"wrong", testPassword + "!", false},
		{"empty", "", false},
		{"case", strings.ToUpper(testPassword), false},
		{"too long", strings.Repeat("x", MaxPasswordLength+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := CheckPassword(tc.password, h1)
			if err != nil || ok != tc.want {
				t.Errorf("CheckPassword = %v, %v; want %v, nil", ok, err, tc.want)
			}
		})
	}
}

func TestHashPasswordRefusesHugePassword(t *testing.T) {
	if _, err := HashPassword(strings.Repeat("x", MaxPasswordLength+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
}

// A hash made elsewhere with other parameters verifies. The vector was
// made with the reference implementation's CLI:
//
//	echo -n password | argon2 somesaltsomesalt -id -t 3 -m 12 -p 2 -l 32 -e
func TestCheckPasswordReferenceVector(t *testing.T) {
	const ref = "$argon2id$v=19$m=4096,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$GIDb0bjZv/zL6K6d9YzKPOpfCjQnH6oS30MB6t9rDtk"
	if ok, err := CheckPassword("password", ref); !ok || err != nil {
		t.Errorf("CheckPassword(reference) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := CheckPassword("Password", ref); ok || err != nil {
		t.Errorf("CheckPassword(wrong, reference) = %v, %v; want false, nil", ok, err)
	}
}

func TestCheckPasswordMalformed(t *testing.T) {
	good, err := HashPassword("x")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	for _, tc := range []struct{ name, hash string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuuM1bUq3TPY6v8wS3q6oXr7m3uR6q5J9G"},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1)},
		{"old version", strings.Replace(good, "v=19", "v=16", 1)},
		{"memory huge", strings.Replace(good, "m=19456", "m=4294967295", 1)},
		{"time huge", strings.Replace(good, "t=2", "t=1000", 1)},
		{"zero threads", strings.Replace(good, "p=1", "p=0", 1)},
		{"missing param", strings.Replace(good, ",t=2", "", 1)},
		{"unknown param", strings.Replace(good, "p=1", "p=1,x=1", 1)},
		{"bad salt", strings.Join(append(parts[:4:4], "!!!", parts[5]), "$")},
		{"short key", strings.Join(append(parts[:5:5], "AAAA"), "$")},
		{"extra field", good + "$x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := CheckPassword("x", tc.hash)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("CheckPassword = %v, %v; want false, ErrMalformedHash", ok, err)
			}
		})
	}
}

func TestCheckPasswordStrength(t *testing.T) {
	for _, tc := range []struct {
		password string
		ok       bool
	}{
		{"short", false},
		{"elevenchars", false},
		{"twelve chars", true},
		{"            ", false},
		{strings.Repeat("y", MaxPasswordLength+1), false},
	} {
		err := CheckPasswordStrength(tc.password)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("CheckPasswordStrength(%.20q) = %v, want ok=%v", tc.password, err, tc.ok)
		}
	}
}

// FuzzParseHash: stored hashes are parsed before anything is computed from
// them; no input may panic, and whatever parses is within bounds.
func FuzzParseHash(f *testing.F) {
	good, _ := HashPassword("x")
	f.Add(good)
	f.Add("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$AAAA")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseHash(s)
		if err != nil {
			return
		}
		if p.memory > maxArgonMemoryKiB || p.time > maxArgonTime || p.threads > maxArgonThreads ||
			p.memory == 0 || p.time == 0 || p.threads == 0 || len(p.key) < 16 || len(p.salt) < 8 {
			t.Fatalf("parseHash(%q) accepted out-of-bounds parameters %+v", s, p)
		}
	})
}

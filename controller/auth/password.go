package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Password rules.
const (
	// MinPasswordLength is the shortest password accepted for a new user,
	// in bytes.
	MinPasswordLength = 12
	// MaxPasswordLength bounds a password, so a huge one cannot make
	// hashing a denial of service.
	MaxPasswordLength = 1024
)

// Argon2id parameters of new hashes: the OWASP recommendation of 19 MiB,
// two passes, one lane. Hashes made with other parameters still verify;
// their own parameters are encoded in them.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// Bounds on the parameters of a stored hash, so a corrupt or hostile row
// cannot make a check take unbounded memory or time.
const (
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 16
	maxArgonThreads   = 16
)

// ErrMalformedHash reports a stored password hash that is not an argon2id
// hash this package can check.
var ErrMalformedHash = errors.New("malformed password hash")

var b64 = base64.RawStdEncoding

// HashPassword returns the argon2id hash of password in the PHC string
// format ($argon2id$v=19$m=...,t=...,p=...$salt$hash), with a fresh random
// salt. It refuses passwords longer than MaxPasswordLength; it does not
// check MinPasswordLength (see CheckPasswordStrength).
func HashPassword(password string) (string, error) {
	if len(password) > MaxPasswordLength {
		return "", fmt.Errorf("%w: password is longer than %d bytes", ErrInvalid, MaxPasswordLength)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hashing password: reading random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemoryKiB, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash, comparing in
// constant time. A hash that cannot be parsed gives false and an error
// wrapping ErrMalformedHash; a mismatch gives false and nil.
func CheckPassword(password, hash string) (bool, error) {
	p, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordLength {
		return false, nil
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// CheckPasswordStrength returns an error wrapping ErrInvalid when password
// may not be set for a user.
func CheckPasswordStrength(password string) error {
	switch {
	case len(password) < MinPasswordLength:
		return fmt.Errorf("%w: password must be at least %d characters", ErrInvalid, MinPasswordLength)
	case len(password) > MaxPasswordLength:
		return fmt.Errorf("%w: password is longer than %d bytes", ErrInvalid, MaxPasswordLength)
	case strings.TrimSpace(password) == "":
		return fmt.Errorf("%w: password must not be only white space", ErrInvalid)
	}
	return nil
}

type argonParams struct {
	memory    uint32
	time      uint32
	threads   uint8
	salt, key []byte
}

// parseHash parses a PHC argon2id string. The error never quotes the hash.
func parseHash(hash string) (argonParams, error) {
	bad := func(what string) (argonParams, error) {
		return argonParams{}, fmt.Errorf("%w: %s", ErrMalformedHash, what)
	}
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" {
		return bad("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported argon2 version")
	}
	var p argonParams
	seen := 0
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return bad("parameters")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return bad("parameter " + k)
		}
		switch k {
		case "m":
			if n > maxArgonMemoryKiB {
				return bad("memory parameter too large")
			}
			p.memory = uint32(n)
			seen |= 1
		case "t":
			if n > maxArgonTime {
				return bad("time parameter too large")
			}
			p.time = uint32(n)
			seen |= 2
		case "p":
			if n > maxArgonThreads {
				return bad("parallelism parameter too large")
			}
			p.threads = uint8(n)
			seen |= 4
		default:
			return bad("unknown parameter")
		}
	}
	if seen != 7 {
		return bad("missing parameter")
	}
	if p.memory < 8*uint32(p.threads) {
		return bad("memory parameter too small for its parallelism")
	}
	var err error
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return bad("salt")
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return bad("key")
	}
	return p, nil
}

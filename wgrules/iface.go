package wgrules

import "fmt"

// MaxInterfaceNameLen is the longest interface name: Linux's IFNAMSIZ less
// its terminating NUL.
const MaxInterfaceNameLen = 15

// CheckInterfaceName returns nil when name may name a WireGuard interface:
// 1 to MaxInterfaceNameLen characters of [A-Za-z0-9_=+.-] (the wire
// contract's ^[A-Za-z0-9_=+.-]{1,15}$, docs/AGENT_API.md), and neither "."
// nor "..", which Linux refuses too and which would change the meaning of a
// path. Otherwise the error says what is wrong; it quotes at most the first
// 20 characters of name.
func CheckInterfaceName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("interface name is empty")
	case len(name) > MaxInterfaceNameLen:
		return fmt.Errorf("interface name %.20q is longer than %d characters", name, MaxInterfaceNameLen)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is refused: \".\" and \"..\" name directories", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_', c == '=', c == '+', c == '.', c == '-':
		default:
			return fmt.Errorf("interface name %q: character %q is not one of [A-Za-z0-9_=+.-]", name, name[i:i+1])
		}
	}
	return nil
}

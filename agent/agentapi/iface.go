package agentapi

// MaxInterfaceNameLen is the longest interface name (Linux IFNAMSIZ - 1).
const MaxInterfaceNameLen = 15

// ValidInterfaceName reports whether name matches ^[A-Za-z0-9_=+.-]{1,15}$
// (docs/AGENT_API.md, "Endpoints") and is neither "." nor "..", which Linux
// refuses too and which would change the meaning of a path.
func ValidInterfaceName(name string) bool {
	if len(name) == 0 || len(name) > MaxInterfaceNameLen || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_', c == '=', c == '+', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

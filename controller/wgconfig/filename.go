package wgconfig

import (
	"strconv"
	"strings"

	"github.com/wgfleet/wgfleet/wgrules"
)

// FileName is the attachment name of a peer's config: "wg-NAME.conf", where
// NAME is the peer's name reduced to letters, digits, '_', '.' and '-'
// (other runs become one '-') and cut so that the part before ".conf" is a
// valid interface name (wgrules.CheckInterfaceName), which wg-quick requires
// of a config file's name. A name with nothing left gives "wg-ID.conf"
// (cut to 15 characters as well).
func FileName(peerName string, peerID int64) string {
	var b strings.Builder
	dash := false
	for _, r := range peerName {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '_', r == '.':
			b.WriteRune(r)
			dash = false
		default: // '-' and everything else
			if !dash {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	const prefix = "wg-"
	name := trimName(b.String())
	if len(prefix)+len(name) > wgrules.MaxInterfaceNameLen {
		name = trimName(name[:wgrules.MaxInterfaceNameLen-len(prefix)])
	}
	if name == "" {
		name = strconv.FormatInt(peerID, 10)
		if len(prefix)+len(name) > wgrules.MaxInterfaceNameLen {
			name = name[:wgrules.MaxInterfaceNameLen-len(prefix)]
		}
	}
	return prefix + name + ".conf"
}

// trimName drops dashes and dots at either end.
func trimName(s string) string {
	return strings.Trim(s, "-.")
}

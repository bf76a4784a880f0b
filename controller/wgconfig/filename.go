package wgconfig

import (
	"strconv"
	"strings"

	"github.com/wgfleet/wgfleet/wgrules"
)

// FileName is the attachment name of a peer's config: "wg-NAME.conf", where
// NAME is the peer's name reduced to letters, digits, '_', '.' and '-'
// (other runs become one '-'), so that the part before ".conf" is a valid
// interface name (wgrules.CheckInterfaceName, at most 15 characters),
// which wg-quick requires of a config file's name. A name too long for
// that is cut and followed by "-ID", the peer's id, so that two peers
// whose names differ only past the cut ("alice-laptop" and
// "alice-laptop-2") still get two names: "wg-alice-laptop.conf" and
// "wg-alice-lapt-8.conf". A name with nothing left gives "wg-ID.conf"
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
		suffix := "-" + strconv.FormatInt(peerID, 10)
		if room := wgrules.MaxInterfaceNameLen - len(prefix) - len(suffix); room > 0 && trimName(name[:room]) != "" {
			name = trimName(name[:room]) + suffix
		} else {
			name = ""
		}
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

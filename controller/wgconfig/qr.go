package wgconfig

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// QR code sizes in pixels.
const (
	DefaultQRSize = 512
	MaxQRSize     = 4096
)

// QRPNG draws config as a QR code (error correction level M, with the
// quiet zone) in a PNG for phone apps to scan. Every module is a whole
// number of pixels, so the image is square and as large as fits in size
// pixels (size <= 0 means DefaultQRSize); when size is smaller than the
// code, each module gets one pixel. A config too long for a QR code, or a
// size above MaxQRSize, is an error.
func QRPNG(config []byte, size int) ([]byte, error) {
	if size <= 0 {
		size = DefaultQRSize
	}
	if size > MaxQRSize {
		return nil, fmt.Errorf("wgconfig: QR size %d is above %d pixels", size, MaxQRSize)
	}
	if len(config) == 0 {
		return nil, fmt.Errorf("wgconfig: QR code of an empty config")
	}
	q, err := qrcode.New(string(config), qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("wgconfig: making QR code: %w", err)
	}
	modules := len(q.Bitmap())
	scale := max(size/modules, 1)
	png, err := q.PNG(-scale) // a negative size is whole pixels per module
	if err != nil {
		return nil, fmt.Errorf("wgconfig: drawing QR code: %w", err)
	}
	return png, nil
}

// QRText draws config as the same QR code as QRPNG, for a terminal: two
// modules a character (upper and lower half blocks), quiet zone included.
// Dark modules are blanks and light ones blocks, which scans on a terminal
// with a dark background; invert swaps them for a light one.
func QRText(config []byte, invert bool) (string, error) {
	if len(config) == 0 {
		return "", fmt.Errorf("wgconfig: QR code of an empty config")
	}
	q, err := qrcode.New(string(config), qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("wgconfig: making QR code: %w", err)
	}
	return q.ToSmallString(invert), nil
}

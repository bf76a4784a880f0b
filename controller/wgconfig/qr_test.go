package wgconfig

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

func renderedConfig(t *testing.T) []byte {
	t.Helper()
	conf, err := Render(fullClient(t))
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// TestQRPNGImage checks the PNG pixel by pixel: square, whole pixels per
// module, no larger than asked, and every module the one the QR encoder
// computes for the config.
func TestQRPNGImage(t *testing.T) {
	conf := renderedConfig(t)
	q, err := qrcode.New(string(conf), qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	bitmap := q.Bitmap()
	modules := len(bitmap)
	for _, size := range []int{0, 300, 512, 1000, 10} {
		data, err := QRPNG(conf, size)
		if err != nil {
			t.Fatalf("QRPNG(size %d): %v", size, err)
		}
		if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("size %d: no PNG signature", size)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("size %d: decoding PNG: %v", size, err)
		}
		b := img.Bounds()
		want := size
		if want == 0 {
			want = DefaultQRSize
		}
		scale := max(want/modules, 1)
		if b.Dx() != b.Dy() || b.Dx() != scale*modules {
			t.Fatalf("size %d: image is %dx%d, want %dx%d (%d modules of %d px)", size, b.Dx(), b.Dy(),
				scale*modules, scale*modules, modules, scale)
		}
		for y := range modules {
			for x := range modules {
				if dark(img, x*scale+scale/2, y*scale+scale/2) != bitmap[y][x] {
					t.Fatalf("size %d: module (%d,%d) differs from the QR code of the config", size, x, y)
				}
			}
		}
	}
}

func dark(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	return r+g+b < 3*0x8000
}

// TestQRPNGDecodes reads the code back with a real scanner (zbarimg).
func TestQRPNGDecodes(t *testing.T) {
	zbarimg := testenv.RequireCommand(t, "zbarimg", "zbar-tools")
	conf := renderedConfig(t)
	data, err := QRPNG(conf, 0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbarimg, "--quiet", "--raw", path).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	got := strings.TrimSuffix(string(out), "\n")
	if got != string(conf) {
		t.Fatalf("zbarimg read:\n%s\nwant:\n%s", got, conf)
	}
	if _, err := Parse([]byte(got)); err != nil {
		t.Fatalf("the scanned config does not parse: %v", err)
	}
}

func TestQRPNGRefuses(t *testing.T) {
	if _, err := QRPNG(nil, 0); err == nil {
		t.Error("QRPNG of nothing succeeded")
	}
	if _, err := QRPNG([]byte("x"), MaxQRSize+1); err == nil {
		t.Error("QRPNG above MaxQRSize succeeded")
	}
	if _, err := QRPNG(bytes.Repeat([]byte("x"), 4000), 0); err == nil {
		t.Error("QRPNG of 4000 bytes succeeded; a QR code holds at most 2953")
	}
}

// TestQRText reads the terminal drawing back, two modules a character, and
// finds every module of the code QRPNG draws, inverted on request.
func TestQRText(t *testing.T) {
	conf := renderedConfig(t)
	q, err := qrcode.New(string(conf), qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	bitmap := q.Bitmap()
	for _, invert := range []bool{false, true} {
		text, err := QRText(conf, invert)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
		if len(lines) != (len(bitmap)+1)/2 {
			t.Fatalf("invert %v: %d lines for %d rows of modules", invert, len(lines), len(bitmap))
		}
		// What each character says of its upper and lower module: lit
		// (drawn as block) or not.
		halves := map[rune][2]bool{' ': {false, false}, '█': {true, true}, '▀': {true, false}, '▄': {false, true}}
		for i, line := range lines {
			runes := []rune(line)
			if len(runes) != len(bitmap[0]) {
				t.Fatalf("line %d has %d characters, want %d", i, len(runes), len(bitmap[0]))
			}
			for x, r := range runes {
				h, ok := halves[r]
				if !ok {
					t.Fatalf("line %d: character %q", i, r)
				}
				for k, y := range []int{2 * i, 2*i + 1} {
					if y >= len(bitmap) {
						continue
					}
					// Dark modules are blank unless inverted.
					if want := bitmap[y][x] == invert; h[k] != want {
						t.Fatalf("invert %v: module (%d,%d) drawn lit=%v, want %v", invert, x, y, h[k], want)
					}
				}
			}
		}
	}
	if _, err := QRText(nil, false); err == nil {
		t.Error("QR text of an empty config")
	}
}

package report

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

func decodeSawtoothPNG(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

// countSawtoothColour counts pixels close to c (the curves and zones are drawn in
// known colours, so their presence is checkable).
func countSawtoothColour(img image.Image, r, g, b uint8) int {
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if sawtoothAbsDiff(pr>>8, uint32(r)) < 12 && sawtoothAbsDiff(pg>>8, uint32(g)) < 12 && sawtoothAbsDiff(pb>>8, uint32(b)) < 12 {
				n++
			}
		}
	}
	return n
}

func sawtoothAbsDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestSawtoothSingleRuleSet(t *testing.T) {
	rules, _ := savepolicy.Parse(savepolicy.Default)
	data, err := SawtoothPNG(Sawtooth{
		Title: "sawtooth", Lo: 0.0005, Hi: 1000,
		Curves: []SawtoothCurve{{Label: "default", Rules: rules, BGSave: 4 * time.Second}},
	})
	if err != nil {
		t.Fatal(err)
	}
	img := decodeSawtoothPNG(t, data)
	if w := img.Bounds().Dx(); w != 1500 {
		t.Errorf("width %d px, want 1500 (10 in at 150 DPI)", w)
	}
	if n := countSawtoothColour(img, 0x55, 0x55, 0x55); n < 1000 {
		t.Errorf("%d pixels of the worst-case curve's grey, want a drawn curve", n)
	}
	if n := countSawtoothColour(img, 0xff, 0x7f, 0x0e); n < 300 {
		t.Errorf("%d pixels of the oldest-lost-write orange, want a drawn curve", n)
	}
}

func TestSawtoothComparisonWithRPO(t *testing.T) {
	current, _ := savepolicy.Parse(savepolicy.Default)
	proposed, _ := savepolicy.Parse("110 1")
	path := filepath.Join(t.TempDir(), "tune.png")
	err := WriteSawtooth(path, Sawtooth{
		Title: "tune", Lo: 1, Hi: 500, RPO: 2 * time.Minute,
		Curves: []SawtoothCurve{
			{Label: "current", Rules: current, BGSave: 4 * time.Second},
			{Label: "proposed", Rules: proposed, BGSave: 4 * time.Second},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img := decodeSawtoothPNG(t, data)
	// The proposed curve sits just under the RPO: it must not be hidden.
	if n := countSawtoothColour(img, 0xff, 0x7f, 0x0e); n < 1000 {
		t.Errorf("%d pixels of the proposed curve, want it visible next to the RPO zone", n)
	}
	if n := countSawtoothColour(img, 0x1f, 0x77, 0xb4); n < 1000 {
		t.Errorf("%d pixels of the current curve", n)
	}
}

func TestSawtoothRejectsNothingToDraw(t *testing.T) {
	tests := []Sawtooth{
		{Lo: 1, Hi: 1, Curves: []SawtoothCurve{{Rules: savepolicy.Rules{{Seconds: 60, Changes: 1}}}}},
		{Lo: 0, Hi: 10, Curves: []SawtoothCurve{{Rules: savepolicy.Rules{{Seconds: 60, Changes: 1}}}}},
		{Lo: 1, Hi: 10},
		{Lo: 1, Hi: 10, Curves: []SawtoothCurve{{Rules: savepolicy.Rules{}}}}, // save "": never saves
	}
	for _, s := range tests {
		if _, err := SawtoothPNG(s); err == nil {
			t.Errorf("SawtoothPNG(%+v) drew something", s)
		}
	}
}

func TestWriteSawtoothUnwritable(t *testing.T) {
	rules, _ := savepolicy.Parse(savepolicy.Default)
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "chart.png")
	err := WriteSawtooth(path, Sawtooth{Lo: 1, Hi: 10, Curves: []SawtoothCurve{{Rules: rules}}})
	if err == nil || !errors.Is(err, result.ErrBadInput) {
		t.Fatalf("writing to a missing directory: %v, want a bad-input error", err)
	}
	if _, statErr := os.Stat(path); !os.IsNotExist(statErr) {
		t.Errorf("a failed write left %s behind", path)
	}
}

package savepolicy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxRate bounds a write rate: far above anything one Valkey accepts, low
// enough that every derived duration stays finite.
const maxRate = 1e9

// ParseRate reads a write rate: "200/s", "200" (per second), "12000/min",
// "3/h". Errors unwrap to result.ErrBadInput.
func ParseRate(s string) (float64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return 0, badInput("rate %q: use a positive number of writes like 200/s, 200 or 12000/min", s)
	}
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "", "s", "sec":
	case "m", "min":
		v /= 60
	case "h", "hour":
		v /= 3600
	default:
		return 0, badInput("rate %q: unit must be /s, /min or /h (e.g. 200/s)", s)
	}
	if v > maxRate || v < 1/maxRate {
		return 0, badInput("rate %q: must be between 1e-9 and 1e9 writes/s", s)
	}
	return v, nil
}

// ParseRateRange reads "lo..hi" (each a ParseRate, e.g. "1/s..500/s") or a
// single rate, which gives lo == hi.
func ParseRateRange(s string) (lo, hi float64, err error) {
	a, b, isRange := strings.Cut(s, "..")
	if !isRange {
		r, err := ParseRate(s)
		return r, r, err
	}
	if lo, err = ParseRate(a); err != nil {
		return 0, 0, err
	}
	if hi, err = ParseRate(b); err != nil {
		return 0, 0, err
	}
	if lo >= hi {
		return 0, 0, badInput("rate range %q: the first rate must be below the second (e.g. 0.01/s..500/s)", s)
	}
	return lo, hi, nil
}

// LogSpace returns n rates from lo to hi inclusive, evenly spaced in log.
func LogSpace(lo, hi float64, n int) []float64 {
	if n < 2 || lo >= hi {
		return []float64{lo}
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = lo * math.Pow(hi/lo, float64(i)/float64(n-1))
	}
	out[n-1] = hi
	return out
}

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseSize reads a byte count: "114MB", "114 MiB", "2GiB", "35800000".
// MB/GB are decimal, MiB/GiB binary. Errors unwrap to result.ErrBadInput.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool {
		return (r < '0' || r > '9') && r != '.' && r != 'e' && r != 'E' && r != '+' && r != '-'
	})
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	v, err := strconv.ParseFloat(num, 64)
	mult, known := sizeUnits[unit]
	if err != nil || !known || math.IsNaN(v) || v < 0 {
		return 0, badInput("size %q: use bytes with an optional unit, e.g. 114MB, 114MiB or 2GiB", s)
	}
	b := v * mult
	if b > 1<<50 {
		return 0, badInput("size %q: more than 1 PiB is not a Valkey RDB", s)
	}
	return int64(math.Round(b)), nil
}

// FormatBytes renders a byte count with a decimal unit (MB, GB), as AWS
// bills it.
func FormatBytes(b float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	i := 0
	for math.Abs(b) >= 1000 && i < len(units)-1 {
		b /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.3g %s", b, units[i])
}

// FormatRate renders writes/s compactly: "200/s", "12000/s", "0.0111/s".
func FormatRate(r float64) string {
	if r >= 100 {
		return strconv.FormatFloat(math.Round(r), 'f', -1, 64) + "/s"
	}
	return strconv.FormatFloat(r, 'g', 3, 64) + "/s"
}

// FormatDuration renders a duration at a useful precision: "61.1 s",
// "2280 s", "2.5 h", "3.0 days".
func FormatDuration(d time.Duration) string { return fmtSeconds(d.Seconds()) }

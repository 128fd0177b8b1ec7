package savepolicy

import (
	"errors"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

// Every parser must survive any input: no panic, errors are bad input, and
// whatever parses renders back to the same rules.

func FuzzParse(f *testing.F) {
	for _, s := range []string{Default, ServerDefault, "", `""`, "60 0", "900 x", "60", `"900 1",300 10`, "+1 -0", "9223372036854775807 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := Parse(s)
		if err != nil {
			if !errors.Is(err, result.ErrBadInput) {
				t.Fatalf("Parse(%q): error %v is not bad input", s, err)
			}
			return
		}
		again, err := Parse(rules.String())
		if err != nil || again.String() != rules.String() {
			t.Fatalf("Parse(%q) = %q does not round-trip: %q, %v", s, rules, again, err)
		}
		for _, r := range rules {
			Predict(rules, 1, 0)
			if r.Seconds < 1 || r.Changes < 0 {
				t.Fatalf("Parse(%q) accepted %v", s, r)
			}
		}
	})
}

func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"save 900 1\nsave 60 10000\n", "save \"\"\n", "save\n", "save \"900 1 300 10\"\n", "SAVE '5 0'\n",
		"save 60 1 # x\n", "save \"\\x41 1\"\n", "include other.conf\n", "save \"open\n", "# c\n\n  \t\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c saveConfig
		err := c.readConfig(data, "fuzz.conf", nil)
		if err != nil {
			if !errors.Is(err, result.ErrBadInput) {
				t.Fatalf("error %v is not bad input", err)
			}
			return
		}
		rules := c.result()
		if _, err := Parse(rules.String()); err != nil {
			t.Fatalf("config gave rules %q that do not parse: %v", rules, err)
		}
	})
}

func FuzzCommand(f *testing.F) {
	for _, args := range [][]string{
		{"valkey-server", "--save", "60 100"}, {"--save", "", "--save", "1 1"}, {"--save"},
		{"sh", "-c", "valkey-server --save '60 1'"}, {"--save", UnknownArg}, {"--save", "1", "--save", "x"},
	} {
		f.Add(strings.Join(args, "\x00"))
	}
	f.Fuzz(func(t *testing.T, joined string) {
		rules, found, err := FromCommand(strings.Split(joined, "\x00"))
		if err == nil && found {
			if _, perr := Parse(rules.String()); perr != nil {
				t.Fatalf("command gave rules %q that do not parse: %v", rules, perr)
			}
		}
	})
}

func FuzzRate(f *testing.F) {
	for _, s := range []string{"200/s", "200", "12000/min", "3/h", "1/s..500/s", "..", "NaN", "1e308/s", "-0", "0.0000000001/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := ParseRate(s); err == nil {
			if !(r >= 1e-9 && r <= 1e9) {
				t.Fatalf("ParseRate(%q) = %v, outside the accepted bounds", s, r)
			}
			// Any accepted rate gives a finite model answer.
			p := Predict(Rules{{60, 10000}, {1, 1}}, r, 0)
			if !p.Fires || p.WorstWindow <= 0 {
				t.Fatalf("Predict at %v: %+v", r, p)
			}
		} else if !errors.Is(err, result.ErrBadInput) {
			t.Fatalf("ParseRate(%q): %v is not bad input", s, err)
		}
		if lo, hi, err := ParseRateRange(s); err == nil && !(lo <= hi && lo > 0) {
			t.Fatalf("ParseRateRange(%q) = %v..%v", s, lo, hi)
		}
	})
}

func FuzzSize(f *testing.F) {
	for _, s := range []string{"114MB", "2 GiB", "0", "1e3kb", "-1", "MB", "1.5.5GB", "9e99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && (n < 0 || n > 1<<50) {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		if err != nil && !errors.Is(err, result.ErrBadInput) {
			t.Fatalf("ParseSize(%q): %v is not bad input", s, err)
		}
	})
}

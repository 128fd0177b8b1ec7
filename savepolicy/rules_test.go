package savepolicy

import (
	"errors"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want string // rules.String(); "ERR" for an error
	}{
		{Default, "900 1 300 10 60 10000"},
		{`"900 1 300 10 60 10000"`, "900 1 300 10 60 10000"},
		{"900,1, 300,10", "900 1 300 10"},
		{"  60   10000 ", "60 10000"},
		{"", ""},
		{`""`, ""},
		{"60 0", "60 0"}, // Valkey accepts zero changes: save every 60 s
		{"+60 010", "60 10"},
		{"900 x", "ERR"},
		{"60", "ERR"},
		{"0 1", "ERR"},
		{"-5 1", "ERR"},
		{"60 -1", "ERR"},
		{"1.5 1", "ERR"},
		{"0x10 1", "ERR"},
		{"99999999999 1", "ERR"},
		{"60 99999999999", "ERR"},
	}
	for _, tc := range tests {
		rules, err := Parse(tc.in)
		if tc.want == "ERR" {
			if err == nil {
				t.Errorf("Parse(%q) = %q, want an error", tc.in, rules)
				continue
			}
			if !errors.Is(err, result.ErrBadInput) {
				t.Errorf("Parse(%q) error %v does not unwrap to ErrBadInput (exit code 2)", tc.in, err)
			}
			if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "bad input") {
				t.Errorf("Parse(%q) error %q: want one line without a repeated prefix", tc.in, err)
			}
			continue
		}
		if err != nil || rules.String() != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tc.in, rules, err, tc.want)
		}
	}
}

func TestScaleKeepsChangesAndWholeSeconds(t *testing.T) {
	rules, _ := Parse(Default)
	got := rules.Scale(0.01).String()
	if got != "9 1 3 10 1 10000" {
		t.Fatalf("scale 0.01 of %q = %q, want 9 1 3 10 1 10000 (60 s becomes 0.6, floored at 1)", rules, got)
	}
}

func TestCheckAimable(t *testing.T) {
	tests := []struct {
		rules string
		want  string // "" for no error, else a word the message must hold
	}{
		{Default, ""},
		{"900 0 60 10000", ""}, // below 10000/900 writes/s the timer fires first: a rate exists
		{"", "persistence is off"},
		{"900 0", `"900 0" saves every 900 s`},
		{"60 0 900 1", `"60 0" saves every 60 s`},
	}
	for _, tc := range tests {
		rules, err := Parse(tc.rules)
		if err != nil {
			t.Fatal(err)
		}
		err = rules.CheckAimable()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v, want no error", tc.rules, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, result.ErrBadInput)):
			t.Errorf("%q: %v, want a bad-input error naming %q", tc.rules, err, tc.want)
		}
	}
}

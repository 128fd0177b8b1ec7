package local

import (
	"fmt"

	"github.com/trigpointing/valkey-chaos/target"
)

// Supports says whether this target can inject kind: every fault but the
// ones that need a service scheduler starting the new server itself.
func (t *Target) Supports(kind target.FaultKind) error {
	if kind.NeedsScheduler() {
		return fmt.Errorf("%w: %s needs a service scheduler that starts the new server before the old one stops: run it with --target ecs (rehearse against 'valkey-chaos twin'); the local target supports crash, stop and shutdown-nosave",
			target.ErrUnsupported, kind)
	}
	return nil
}

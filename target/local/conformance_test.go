package local_test

import (
	"github.com/trigpointing/valkey-chaos/scenarios"
	"github.com/trigpointing/valkey-chaos/target/local"
)

// What the runner consumes, declared where it is consumed (package
// scenarios); this fails to compile the moment either side drifts.
var (
	_ scenarios.Target           = (*local.Target)(nil)
	_ scenarios.FaultSupporter   = (*local.Target)(nil)
	_ scenarios.StorageTarget    = (*local.Target)(nil)
	_ scenarios.StorageValidator = (*local.Target)(nil)
	_ scenarios.ServerWatcher    = (*local.Target)(nil)
	_ scenarios.LogFiler         = (*local.Target)(nil)
	_ scenarios.SnapshotRestorer = (*local.Target)(nil)
)

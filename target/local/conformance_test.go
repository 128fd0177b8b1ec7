package local_test

import (
	"context"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/scenarios"
	"github.com/trigpointing/valkey-chaos/target/local"
	"github.com/trigpointing/valkey-chaos/target/targettest"
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
	_ scenarios.ServerDiscarder  = (*local.Target)(nil)
)

// The conformance suite on local processes.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance table runs whole trials")
	}
	targettest.Run(t, func(t *testing.T) (scenarios.Target, result.Target) {
		tg, err := local.New(context.Background(), local.Config{LogDir: t.TempDir(), WorkDir: t.TempDir()})
		if err != nil {
			t.Fatalf("local.New: %v", err)
		}
		t.Cleanup(func() { tg.Close() })
		return tg, result.Target{Kind: "local", ServerVersion: tg.Version(), ServerBin: tg.Bin(), Storage: "local-disk"}
	})
}

package ecs_test

import (
	"io"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/internal/ecstwin"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/scenarios"
	"github.com/trigpointing/valkey-chaos/target/ecs"
	"github.com/trigpointing/valkey-chaos/target/targettest"
)

// The runner drives the ECS target through the same interfaces as the
// local one, declared where they are consumed (package scenarios); this
// fails to compile the moment either side drifts.
var (
	_ scenarios.Target         = (*ecs.Target)(nil)
	_ scenarios.FaultSupporter = (*ecs.Target)(nil)
	_ scenarios.DryRunner      = (*ecs.Target)(nil)
)

// The conformance suite on the twin: Fargate's shape with every delay
// scaled down (deprovisioning longer than provisioning, batched logs).
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance table runs whole trials")
	}
	targettest.Run(t, func(t *testing.T) (scenarios.Target, result.Target) {
		// The module as deployed: its single-writer lock is on by default.
		// Without it the replacement, launched as the old task stops,
		// overlaps the old one's final save whenever that save outlasts
		// provisioning (on a busy machine: 5008 writes lost, a true
		// finding about a deployment without the lock, tested in cmd).
		startTwin(t, ecstwin.Config{Save: targettest.Save, ProvisionDelay: 300 * time.Millisecond, DeprovisionDelay: 600 * time.Millisecond,
			LogBatch: 500 * time.Millisecond, StopTimeout: 10 * time.Second, WriterLock: true, LockWait: 30 * time.Second})
		tg, err := ecs.New(ctxT(t), ecs.Config{Cluster: "chaos", Service: "valkey", Out: io.Discard, PollEvery: 100 * time.Millisecond,
			Timeout: 30 * time.Second, RetryMaxBackoff: 50 * time.Millisecond})
		if err != nil {
			t.Fatalf("ecs.New: %v", err)
		}
		t.Cleanup(func() { tg.Close() })
		return tg, result.Target{Kind: "ecs", Cluster: "chaos", Service: "valkey", Storage: "efs"}
	})
}

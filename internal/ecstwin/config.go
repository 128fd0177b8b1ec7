package ecstwin

import (
	"fmt"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
)

// The capacity rules Config.CapacityRule names.
const (
	CapacityAWS        = "aws"
	CapacityNotStopped = "not-stopped"
)

// Timings are the twin's lifecycle durations.
type Timings struct {
	Provision, Deprovision, LogBatch time.Duration
}

// FargateTimings is the Fargate profile (provisioning about 30 s,
// deprovisioning about 20 s, awslogs batches every 5 s), each multiplied
// by scale so tests keep every ordering at a fraction of the time.
func FargateTimings(scale float64) Timings {
	f := func(d time.Duration) time.Duration { return time.Duration(float64(d) * scale) }
	return Timings{Provision: f(30 * time.Second), Deprovision: f(20 * time.Second), LogBatch: f(5 * time.Second)}
}

// Apply sets the config's lifecycle durations.
func (tm Timings) Apply(cfg *Config) {
	cfg.ProvisionDelay, cfg.DeprovisionDelay, cfg.LogBatch = tm.Provision, tm.Deprovision, tm.LogBatch
}

// DeploymentConfig is the service's deploymentConfiguration.
type DeploymentConfig struct {
	MinimumHealthyPercent int
	MaximumPercent        int
}

func (c DeploymentConfig) validate() error {
	if c.MinimumHealthyPercent < 0 || c.MinimumHealthyPercent > 100 {
		return fmt.Errorf("%w: minimumHealthyPercent %d is outside 0..100", result.ErrBadInput, c.MinimumHealthyPercent)
	}
	if c.MaximumPercent < 100 || c.MaximumPercent > 200 {
		return fmt.Errorf("%w: maximumPercent %d is outside 100..200 (a single-task service needs at least 100)", result.ErrBadInput, c.MaximumPercent)
	}
	return nil
}

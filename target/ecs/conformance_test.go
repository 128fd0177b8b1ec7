package ecs_test

import (
	"github.com/trigpointing/valkey-chaos/scenarios"
	"github.com/trigpointing/valkey-chaos/target/ecs"
)

// The runner drives the ECS target through the same interface as the local
// one; this fails to compile the moment either side drifts.
var _ scenarios.Target = (*ecs.Target)(nil)

package ecs_test

import (
	"github.com/trigpointing/valkey-chaos/scenarios"
	"github.com/trigpointing/valkey-chaos/target/ecs"
)

// The runner drives the ECS target through the same interfaces as the
// local one, declared where they are consumed (package scenarios); this
// fails to compile the moment either side drifts.
var (
	_ scenarios.Target         = (*ecs.Target)(nil)
	_ scenarios.FaultSupporter = (*ecs.Target)(nil)
	_ scenarios.DryRunner      = (*ecs.Target)(nil)
)

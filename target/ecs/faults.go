package ecs

import "github.com/trigpointing/valkey-chaos/target"

// Supports says whether this target can inject kind: an ECS service takes
// every fault (crash as SHUTDOWN NOSAVE, stop as StopTask, rolling-deploy
// as a forced deployment).
func (t *Target) Supports(kind target.FaultKind) error { return nil }

// Package ecstwintest starts an ECS twin for a test. It lives apart from
// ecstwin so that package testing is never linked into the binary.
package ecstwintest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/internal/ecstwin"
)

// Start starts a twin for a test, closes it when the test ends, and
// points the AWS SDK's default chain at it through the environment (as
// `valkey-chaos twin` tells a user to), with no shared config or
// credentials file of the machine in the way. cfg.WorkDir defaults to a
// test temp dir.
func Start(t testing.TB, cfg ecstwin.Config) *ecstwin.Twin {
	t.Helper()
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tw, err := ecstwin.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start twin: %v", err)
	}
	t.Cleanup(func() {
		if err := tw.Close(); err != nil {
			t.Errorf("close twin: %v", err)
		}
	})
	for _, kv := range tw.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	none := filepath.Join(t.TempDir(), "absent")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_PROFILE", "")
	return tw
}

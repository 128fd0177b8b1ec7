package ecstwin

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StartForTest starts a twin for a test, closes it when the test ends, and
// points the AWS SDK's default chain at it through the environment (as
// `valkey-chaos twin` tells a user to), with no shared config or
// credentials file of the machine in the way. cfg.WorkDir defaults to a
// test temp dir.
func StartForTest(t testing.TB, cfg Config) *Twin {
	t.Helper()
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tw, err := Start(ctx, cfg)
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

package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake-server")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// Only a binary that answers --version as a server does is a server: the
// version line is what Valkey and Redis print (checked with valkey-server).
func TestServerVersionNeedsAServerVersionLine(t *testing.T) {
	valkey, err := ResolveBin("")
	if err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	tests := []struct {
		name, bin string
		want      string // version, or "ERR:" and a part of the error
	}{
		{"valkey-server", valkey, "valkey 8."},
		{"a Redis server's line", script(t, `echo "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1"`), "redis 7.0.15"},
		{"silent", script(t, "exit 0"), "ERR:printed nothing"},
		{"another program", script(t, `echo "valkey-cli 8.0.1"`), `ERR:printed "valkey-cli 8.0.1"`},
		{"a server line, but failing", script(t, `echo "Valkey server v=8.0.1"; exit 3`), "ERR:exit status 3"},
		{"killed by a signal", script(t, `kill -TERM $$`), "ERR:died of terminated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ServerVersion(context.Background(), tc.bin)
			if want, isErr := strings.CutPrefix(tc.want, "ERR:"); isErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("ServerVersion = %q, %v; want an error naming %q", got, err, want)
				}
				return
			}
			if err != nil || !strings.HasPrefix(got, tc.want) {
				t.Fatalf("ServerVersion = %q, %v; want %q...", got, err, tc.want)
			}
		})
	}
}

// A signal in the first milliseconds cancels the context while the binary
// is being checked or the server is starting: that is an interruption, never
// a bad --server-bin (exit 2) or a server that did not start.
func TestInterruptedStartIsNotBlamedOnTheServer(t *testing.T) {
	if _, err := ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	cause := errors.New("interrupted by SIGTERM")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	_, err := New(ctx, Config{LogDir: t.TempDir(), WorkDir: t.TempDir()})
	assertInterrupted(t, "New", err, cause)

	tg := newTarget(t, Config{})
	_, err = tg.Start(ctx, target.StartSpec{Label: "t", Save: "60 1"})
	assertInterrupted(t, "Start", err, cause)

	// A child that a signal killed while the context is still live (the
	// terminal's Ctrl-C reaches the whole process group at once).
	ctx2, cancel2 := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel2(cause) })
	_, err = New(ctx2, Config{ServerBin: script(t, "kill -INT $$"), LogDir: t.TempDir(), WorkDir: t.TempDir()})
	assertInterrupted(t, "New with the child signalled", err, cause)
}

func assertInterrupted(t *testing.T, what string, err, cause error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s with a cancelled context succeeded", what)
	case errors.Is(err, result.ErrBadInput):
		t.Errorf("%s: %v: an interruption reported as bad input (exit 2)", what, err)
	case !errors.Is(err, context.Canceled) || !errors.Is(err, cause) || !strings.Contains(err.Error(), "interrupted while"):
		t.Errorf("%s: %v: want an interruption wrapping context.Canceled and its cause", what, err)
	}
}

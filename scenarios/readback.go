package scenarios

import (
	"context"
	"errors"
	"fmt"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
)

// readBackDone is what the read-back phase found.
type readBackDone struct {
	done       bool
	found      []check.Found
	unexpected int
	// cut says how the server cut the read-back short (it went away after
	// it had recovered): the trial's finding, and nothing was read.
	cut string
}

// readBack reads back every key the History wrote and scans for keys under
// the prefix that no op wrote. A server that goes away meanwhile ends it
// without an error and with cut set: the system under test stopped
// serving, which the judge holds against it; the harness did not fail.
func readBack(ctx context.Context, env *trialEnv, h *loadgen.History) (readBackDone, error) {
	addr := env.currentAddr()
	env.logf("reading back %d writes", h.Len())
	found, err := check.ReadBackStream(ctx, env.cfg.Conn, addr, env.plan.Prefix, h, 1000)
	if err != nil {
		return readBackCut(ctx, env, fmt.Errorf("read back %d keys: %w", h.Len(), err))
	}
	written, err := check.WrittenSeqs(h)
	if err != nil {
		return readBackDone{}, err
	}
	env.logf("scanning for unexpected keys under %s", env.plan.Prefix)
	unexpected, err := check.ScanUnexpected(ctx, env.cfg.Conn, addr, env.plan.Prefix, written.Has)
	if err != nil {
		return readBackCut(ctx, env, fmt.Errorf("scan for unexpected keys: %w", err))
	}
	return readBackDone{done: true, found: found, unexpected: unexpected}, nil
}

// readBackCut is the end of a read-back that failed: cut short by the
// server (check.UnavailableError), or err, the harness's own (a History
// that cannot be read, an error reply such as NOPERM) or the run's
// interruption.
func readBackCut(ctx context.Context, env *trialEnv, err error) (readBackDone, error) {
	var gone *check.UnavailableError
	if ctx.Err() != nil || !errors.As(err, &gone) {
		return readBackDone{}, err
	}
	cut := err.Error()
	if exited, how := replacementExited(env.cfg.Target); exited {
		cut += "; the server exited: " + how
	}
	env.logf("the server stopped serving during the read-back: %s", cut)
	return readBackDone{cut: cut}, nil
}

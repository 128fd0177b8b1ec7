package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/trigpointing/valkey-chaos/target"
)

// ServerLog returns every line of every server process of this trial, each
// with the zone its server logs in (UTC: Spawn sets TZ).
func (t *Target) ServerLog(ctx context.Context) ([]target.LogLine, error) {
	var lines []target.LogLine
	for i, path := range t.logFiles {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read server log: %w", err)
		}
		received := time.Now()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			lines = append(lines, target.LogLine{Instance: fmt.Sprintf("pid %d", t.all[i].PID()), Text: sc.Text(), Received: received, Zone: t.all[i].LogZone()})
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	return lines, ctx.Err()
}

// ServerExited reports whether the current server process has exited, and
// how, with the last lines it logged: a replacement that dies while
// starting (a corrupt dump.rdb) would crash-loop under a scheduler.
func (t *Target) ServerExited() (bool, string) {
	srv := t.current()
	if srv == nil || srv.Running() {
		return false, ""
	}
	detail := srv.ExitDetail()
	if mem, ok, _ := srv.Memory(); ok && mem.ParentKilled {
		detail += fmt.Sprintf(" (OOM-killed by the kernel at the task memory limit of %d MiB)", mem.LimitBytes>>20)
	}
	return true, detail + ": " + srv.failureHint()
}

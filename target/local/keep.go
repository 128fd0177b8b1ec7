package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// checkTimeout bounds one checker run: it reads the whole dump.
const checkTimeout = 5 * time.Minute

// keptDataDir makes the trial's data directory under WorkDir, named by the
// label, so a kept directory says which trial it belongs to.
func (t *Target) keptDataDir() (string, error) {
	if err := os.MkdirAll(t.cfg.WorkDir, 0o755); err != nil {
		return "", fmt.Errorf("create data dir root: %w", err)
	}
	dir := filepath.Join(t.cfg.WorkDir, result.SafeName(t.label))
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, os.ErrExist) {
		return os.MkdirTemp(t.cfg.WorkDir, result.SafeName(t.label)+"-")
	}
	if err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	return dir, nil
}

// keepAtFault hard-links every file of the owned data directory into
// <dir>.at-fault before the replacement starts: the dump it will load and the
// temp files the fault left, even after the replacement's saves replace
// dump.rdb (a save renames a new file over it; the link keeps the old one).
// It reads the backing directory, not an emulator mount over it.
func (t *Target) keepAtFault() error {
	if !t.cfg.KeepData || t.ownedDir == "" || t.atFault != "" {
		return nil // a second replacement keeps the first fault's files
	}
	dst := t.ownedDir + ".at-fault"
	if err := os.Mkdir(dst, 0o755); err != nil {
		return fmt.Errorf("keep the data dir at the fault: %w", err)
	}
	t.atFault = dst
	entries, err := os.ReadDir(t.ownedDir)
	if err != nil {
		return fmt.Errorf("keep the data dir at the fault: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		src, to := filepath.Join(t.ownedDir, e.Name()), filepath.Join(dst, e.Name())
		if err := os.Link(src, to); err != nil {
			if err := copyFile(src, to); err != nil { // another file system
				return fmt.Errorf("keep %s at the fault: %w", e.Name(), err)
			}
		}
	}
	return nil
}

// keep records the kept directories of the trial that is finishing and
// checks every dump in them; the servers are gone, so nothing changes them.
func (t *Target) keep(ctx context.Context) error {
	k := target.KeptData{Dir: t.ownedDir, AtFault: t.atFault}
	t.kept = &k
	checker := FindRDBChecker()
	if checker == "" {
		k.CheckerMissing = true
		return nil
	}
	var errs []error
	for _, dir := range []string{k.Dir, k.AtFault} {
		if dir == "" {
			continue
		}
		dumps, err := filepath.Glob(filepath.Join(dir, "*.rdb"))
		if err != nil {
			return err
		}
		sort.Strings(dumps)
		var log strings.Builder
		for _, dump := range dumps {
			cctx, cancel := context.WithTimeout(ctx, checkTimeout)
			c, err := CheckRDB(cctx, checker, dump)
			cancel()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			k.Checks = append(k.Checks, c)
			fmt.Fprintf(&log, "%s: %s, %d keys, %d expires\n", filepath.Base(dump), c.Verdict, c.Keys, c.Expires)
		}
		if log.Len() > 0 {
			if err := os.WriteFile(filepath.Join(dir, "check-rdb.txt"), []byte(log.String()), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("write the checker's verdicts: %w", err))
			}
		}
	}
	t.kept = &k
	return errors.Join(errs...)
}

// KeptData is the data directory the last finished trial kept, with the
// checker's verdict on every dump in it; ok is false unless Config.KeepData.
func (t *Target) KeptData() (target.KeptData, bool) {
	if t.kept == nil {
		return target.KeptData{}, false
	}
	return *t.kept, true
}

package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/trigpointing/valkey-chaos/result"
)

// checkDrill resolves the trial's original and replacement binaries and
// asks each for its version, as New does for the main binary, so a bad
// path fails the trial before any server starts; it also refuses a
// run-as user without root.
func (t *Target) checkDrill(ctx context.Context) error {
	if t.versions == nil {
		t.versions = map[string]string{t.bin: t.version}
	}
	d := t.spec.Drill
	if d.ReplacementBin == "" {
		d.ReplacementBin = t.cfg.ReplacementBin
	}
	for _, bin := range []*string{&d.ServerBin, &d.ReplacementBin} {
		if *bin == "" {
			continue
		}
		path, err := ResolveBin(*bin)
		if err != nil {
			return err
		}
		if _, ok := t.versions[path]; !ok {
			v, err := ServerVersion(ctx, path)
			if err != nil {
				return fmt.Errorf("%w: %s is not a usable valkey-server/redis-server: %w", result.ErrBadInput, path, err)
			}
			t.versions[path] = v
		}
		*bin = path
	}
	t.spec.Drill = d
	if (d.RunAsUID != nil || d.DirOwnerUID != nil) && os.Geteuid() != 0 {
		return fmt.Errorf("%w: run_as_uid and dir_owner_uid start the server as another user, which needs root: run as root, or drop them from the scenario", result.ErrBadInput)
	}
	return nil
}

// binFor is the binary of the original server or of a replacement.
func (t *Target) binFor(replacement bool) string {
	if replacement && t.spec.ReplacementBin != "" {
		return t.spec.ReplacementBin
	}
	if t.spec.ServerBin != "" {
		return t.spec.ServerBin
	}
	return t.bin
}

// versionOf is the --version of a binary checkDrill or New resolved.
func (t *Target) versionOf(bin string) string {
	if v, ok := t.versions[bin]; ok {
		return v
	}
	return t.version
}

// applyOwnership makes a server run as the drill's user: the data
// directory belongs to the drill's owner (mode 0755, the way a volume
// mounted without an access point presents its root), while the log file
// and the paths to the directory and the log stay usable by the server,
// so the only thing it cannot do is write into the directory it saves to.
func (t *Target) applyOwnership(cfg *ServerConfig, first bool) error {
	d := t.spec.Drill
	if first && d.DirOwnerUID != nil {
		if err := os.Chown(t.dataDir, *d.DirOwnerUID, *d.DirOwnerUID); err != nil {
			return fmt.Errorf("give the data dir to uid %d: %w", *d.DirOwnerUID, err)
		}
		if err := os.Chmod(t.dataDir, 0o755); err != nil {
			return fmt.Errorf("data dir mode: %w", err)
		}
	}
	if d.RunAsUID == nil {
		return nil
	}
	uid := *d.RunAsUID
	cfg.RunAsUID = &uid
	for _, p := range []string{filepath.Dir(t.dataDir), filepath.Dir(cfg.LogFile)} {
		if err := searchable(p); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create server log: %w", err)
	}
	f.Close()
	if err := os.Chown(cfg.LogFile, uid, uid); err != nil {
		return fmt.Errorf("give the server log to uid %d: %w", uid, err)
	}
	return nil
}

// searchable adds search (x) permission for others to dir and each of its
// ancestors that lacks it: a temp dir is 0700, and a server running as
// another user must reach its data dir and its log through it.
func searchable(dir string) error {
	for p := dir; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, st.Mode().Perm()|0o011); err != nil {
				return fmt.Errorf("make %s searchable for the server's user: %w", p, err)
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// checkReplacementBin checks --replacement-bin once, before any trial.
func checkReplacementBin(ctx context.Context, bin string) error {
	if bin == "" {
		return nil
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return fmt.Errorf("%w: replacement binary %q not found: pass --replacement-bin a valkey-server or redis-server path (scripts/setup.sh installs both)", result.ErrBadInput, bin)
	}
	if _, err := ServerVersion(ctx, path); err != nil {
		return fmt.Errorf("%w: replacement binary %s is not a usable valkey-server/redis-server: %w", result.ErrBadInput, path, err)
	}
	return nil
}

package local

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Backups live beside the data directory, never in it: a backup is not
// something the server may see, as an EFS backup lives outside the volume.
func (t *Target) backupPath(name string) string {
	return filepath.Join(filepath.Dir(t.dataDir), ".backup-"+filepath.Base(t.dataDir)+"-"+name+".rdb")
}

// KeepSnapshot copies the current dump.rdb aside under name, as a volume
// backup would keep it.
func (t *Target) KeepSnapshot(name string) error {
	if t.dataDir == "" {
		return fmt.Errorf("local target: no trial running")
	}
	return copyFile(filepath.Join(t.dataDir, "dump.rdb"), t.backupPath(name))
}

// RestoreSnapshot puts the kept copy back as dump.rdb, while no server
// runs: the volume restored from an old backup.
func (t *Target) RestoreSnapshot(name string) error {
	if srv := t.current(); srv != nil && srv.Running() {
		return fmt.Errorf("local target: restore dump.rdb while the server still runs: inject a fault first")
	}
	return copyFile(t.backupPath(name), filepath.Join(t.dataDir, "dump.rdb"))
}

// dropBackups removes what KeepSnapshot kept (Finish calls it).
func (t *Target) dropBackups() {
	if t.dataDir == "" {
		return
	}
	matches, _ := filepath.Glob(t.backupPath("*"))
	for _, m := range matches {
		os.Remove(m)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	defer in.Close()
	tmp := to + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", to, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("copy to %s: %w", to, err)
	}
	return os.Rename(tmp, to)
}

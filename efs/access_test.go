package efs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// createAs runs a shell as uid (and gid) that creates name in dir, as a
// server running as another user than the harness would.
func createAs(t *testing.T, uid int, dir, name string) error {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `echo x > "$1/$2"`, "sh", dir, name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	out, err := cmd.CombinedOutput()
	if err != nil && len(out) > 0 {
		return &exec.ExitError{Stderr: out}
	}
	return err
}

// The oracle is the source directory: who owns what the server created,
// and whether it was created at all.
func TestAccessPointUserDecidesWhoMayWrite(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creating files as uid 999 needs root")
	}
	ap := 1000
	for _, c := range []struct {
		name      string
		ap        *int
		wantOwner int // -1: the create is refused
	}{
		{"no access point: uid 999 may not write a directory of uid 1000 (0755)", nil, -1},
		{"access point uid 1000: the request acts as 1000 and the file is its", &ap, 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := quickConfig()
			cfg.AccessPointUID = c.ap
			f, src := mountT(t, cfg)
			// Through the mount, as the local target gives a drill's volume away.
			if err := os.Chown(f.MountPoint(), 1000, 1000); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(f.MountPoint(), 0o755); err != nil {
				t.Fatal(err)
			}
			for p := filepath.Dir(f.MountPoint()); p != "/"; p = filepath.Dir(p) {
				st, _ := os.Stat(p)
				os.Chmod(p, st.Mode().Perm()|0o011) // uid 999 must reach the mount
			}
			if st, err := os.Stat(src); err != nil || st.Sys().(*syscall.Stat_t).Uid != 1000 || st.Mode().Perm() != 0o755 {
				t.Fatalf("source dir %v (%v): want uid 1000, 0755", st.Mode(), err)
			}
			err := createAs(t, 999, f.MountPoint(), "temp-1.rdb")
			st, serr := os.Stat(filepath.Join(src, "temp-1.rdb"))
			if c.wantOwner < 0 {
				if err == nil || serr == nil {
					t.Fatalf("uid 999 created the file (%v): want permission denied", err)
				}
				if ee, ok := err.(*exec.ExitError); ok && !strings.Contains(string(ee.Stderr), "Permission denied") {
					t.Errorf("refusal %q, want Permission denied", ee.Stderr)
				}
				return
			}
			if err != nil || serr != nil {
				t.Fatalf("create as uid 999 under the access point: %v, %v", err, serr)
			}
			if got := st.Sys().(*syscall.Stat_t); int(got.Uid) != c.wantOwner || int(got.Gid) != c.wantOwner {
				t.Errorf("file owned by %d:%d, want %d:%d", got.Uid, got.Gid, c.wantOwner, c.wantOwner)
			}
		})
	}
}

func TestParseAccessPointUID(t *testing.T) {
	c, err := ParseConfig(map[string]string{"mode": "elastic", "access_point_uid": "1000"})
	if err != nil || c.AccessPointUID == nil || *c.AccessPointUID != 1000 {
		t.Fatalf("config %+v, %v: want access point uid 1000", c, err)
	}
	if _, err := ParseConfig(map[string]string{"mode": "elastic", "access_point_uid": "-1"}); err == nil || !strings.Contains(err.Error(), "access_point_uid") {
		t.Errorf("uid -1 accepted (%v): want an error naming access_point_uid", err)
	}
}

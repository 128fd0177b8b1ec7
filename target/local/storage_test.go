package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/efs"
	"github.com/trigpointing/valkey-chaos/internal/leakcheck"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// startEFS starts a trial on EFS-like storage, skipping only when this
// machine cannot mount FUSE.
func startEFS(t *testing.T, tg *Target, storage map[string]string) target.Instance {
	t.Helper()
	inst, err := tg.Start(context.Background(), target.StartSpec{Save: "", Label: t.Name(), Storage: storage})
	if errors.Is(err, efs.ErrNoFUSE) {
		t.Skipf("skipping: this machine cannot mount FUSE: %v", err)
	}
	if err != nil {
		t.Fatalf("start on %v: %v", storage, err)
	}
	return inst
}

func TestEFSStorageMountsUnderTheServerAndIsReleased(t *testing.T) {
	tg := newTarget(t, Config{})
	inst := startEFS(t, tg, map[string]string{"mode": "efs-provisioned", "mibps": "50", "write_latency": "0", "read_latency": "0"})
	if mounted, err := efs.IsMounted(inst.DataDir); err != nil || !mounted {
		t.Fatalf("data dir %s is not an EFS mount (%v)", inst.DataDir, err)
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", tg.cur.PID())); err != nil || cwd != inst.DataDir {
		t.Errorf("server cwd %q (%v), want the mount %s (it chdirs on --dir)", cwd, err, inst.DataDir)
	}
	if tg.cur.cmd.Dir != "" {
		t.Errorf("exec.Cmd.Dir = %q: a fork child touching a mount this process serves deadlocks it", tg.cur.cmd.Dir)
	}
	if r := resp(t, inst.Addr, "SET k v"); r != "+OK" {
		t.Fatalf("SET: %s", r)
	}
	if r := resp(t, inst.Addr, "SAVE"); r != "+OK" {
		t.Fatalf("SAVE: %s", r)
	}
	if _, err := tg.Inject(context.Background(), target.Crash); err != nil {
		t.Fatal(err)
	}
	rec, err := tg.Recover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v := waitValue(t, rec.Instance.Addr, "k"); v != "v" {
		t.Fatalf("after recovery on the mount GET k = %q", v)
	}
	note := tg.StorageNote()
	if note == nil || note.Mode != EFSProvisioned || note.BytesWritten == 0 || note.BytesRead == 0 {
		t.Errorf("storage note %+v: want efs-provisioned with the save written and the load read through the mount", note)
	}
	mnt := inst.DataDir
	if err := tg.Finish(context.Background()); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if mounted, _ := efs.IsMounted(mnt); mounted {
		t.Errorf("%s still mounted after Finish", mnt)
	}
	if _, err := os.Stat(mnt); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mount point %s left behind (%v)", mnt, err)
	}
	if entries, _ := os.ReadDir(tg.cfg.WorkDir); len(entries) != 0 {
		t.Errorf("work dir keeps %d entries after Finish", len(entries))
	}
}

func TestStorageFaultNeedsEFSAndValidation(t *testing.T) {
	tg := newTarget(t, Config{})
	if _, err := tg.Start(context.Background(), target.StartSpec{Label: "disk"}); err != nil {
		t.Fatal(err)
	}
	defer tg.Finish(context.Background())
	if _, err := tg.InjectStorageFault(target.StorageFault{Kind: "eio"}); !errors.Is(err, result.ErrBadInput) || !strings.Contains(err.Error(), "storage.mode") {
		t.Errorf("fault on local disk: %v, want bad input naming storage.mode", err)
	}
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"mode": "efs-warp"}, "storage.mode"},
		{map[string]string{"mode": "local-disk", "mibps": "5"}, "storage.mibps"},
		{map[string]string{"mode": "efs-provisioned"}, "mibps"},
		{map[string]string{"mode": "efs-bursting", "credits": "lots"}, "credits"},
		{map[string]string{"mibps": "5"}, "needs a mode"},
	} {
		if err := tg.ValidateStorage(tc.params); !errors.Is(err, result.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidateStorage(%v) = %v, want bad input mentioning %q", tc.params, err, tc.want)
		}
	}
	if err := tg.ValidateStorageFault(target.StorageFault{Kind: "slow"}); err == nil {
		t.Error("a slow fault without a rate was accepted")
	}
	if err := tg.ValidateStorageFault(target.StorageFault{Kind: "eio", Ops: []string{"chmod"}}); err == nil {
		t.Error("an unknown operation was accepted")
	}
}

// TestStalledStopEndsInSIGKILLAndReleases: a stall on the storage hangs the
// final save; the stop escalates at its timeout, and Finish still unmounts
// with the server gone.
func TestStalledStopEndsInSIGKILLAndReleases(t *testing.T) {
	tg := newTarget(t, Config{StopTimeout: 500 * time.Millisecond})
	inst := startEFS(t, tg, map[string]string{"mode": "efs-elastic", "write_latency": "0", "read_latency": "0"})
	resp(t, inst.Addr, "CONFIG SET save \"3600 1\"")
	resp(t, inst.Addr, "SET k v")
	if _, err := tg.InjectStorageFault(target.StorageFault{Kind: "stall", Path: "temp-*.rdb"}); err != nil {
		t.Fatal(err)
	}
	rep, err := tg.Inject(context.Background(), target.Stop)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Escalated || !rep.Confirmed {
		t.Fatalf("stop with stalled storage: escalated %v confirmed %v (%s)", rep.Escalated, rep.Confirmed, rep.ExitDetail)
	}
	if rep.ExitDetail != "signal: killed" {
		t.Errorf("exit %q, want SIGKILL", rep.ExitDetail)
	}
	mnt := inst.DataDir
	if err := tg.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if mounted, _ := efs.IsMounted(mnt); mounted {
		t.Errorf("%s still mounted", mnt)
	}
}

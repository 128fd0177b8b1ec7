package scenarios

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/internal/leakcheck"
	"github.com/trigpointing/valkey-chaos/result"
)

// requireRedis fails (not skips) when redis-server is missing: the
// upgrade and rollback drills need both servers (scripts/setup.sh).
func requireRedis(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not installed (scripts/setup.sh installs it): %v", err)
	}
}

func serverOf(tr result.Trial, role string) result.ServerRun {
	for _, s := range tr.Servers {
		if s.Role == role {
			return s
		}
	}
	return result.ServerRun{}
}

func dumpOf(tr result.Trial, file string) (result.Dump, bool) {
	for _, d := range tr.Dumps {
		if d.File == file {
			return d, true
		}
	}
	return result.Dump{}, false
}

func TestUpgradeRedis70ToValkey80LoadsTheDump(t *testing.T) {
	requireRedis(t)
	run, err := runTrials(t, context.Background(), runSetup{save: "1 1000", keys: -1}, catalogScenario(t, "upgrade"))
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	if tr.Verdict != result.Pass || tr.RTOS == nil || tr.ReplacementExited != "" {
		t.Fatalf("verdict %s (%s), rto %v: want the newer server to load the older dump", tr.Verdict, reasons(tr), tr.RTOS)
	}
	orig, repl := serverOf(tr, "original"), serverOf(tr, "replacement")
	if !strings.HasPrefix(orig.Version, "redis 7.0") || !strings.HasPrefix(repl.Version, "valkey 8.") {
		t.Fatalf("servers %+v: want redis 7.0 then valkey 8", tr.Servers)
	}
	// The replacement loaded redis's format-10 dump: by its own log more
	// keys than the dataset, and the survivors are a point-in-time prefix.
	if c := tr.Classified; c == nil || c.KeysLoaded <= c.DatasetKeys+1 || tr.Anomalies != 0 || tr.Acked-tr.Lost <= 0 {
		t.Errorf("classified %+v, anomalies %d, acked %d lost %d: the load did not bring back the older server's last save", c, tr.Anomalies, tr.Acked, tr.Lost)
	}
	if d, ok := dumpOf(tr, "dump.rdb"); !ok || d.RDBVersion < 10 {
		t.Errorf("dumps %+v: want dump.rdb with its RDB version", tr.Dumps)
	}
	if cv := tr.Client; cv == nil || cv.FirstOKAfterFaultS == nil || cv.Errors["refused"]+cv.Errors["conn"]+cv.Errors["loading"]+cv.Errors["timeout"] == 0 {
		t.Errorf("client view %+v: want errors during the outage and a first success after the fault", cv)
	}
}

func TestRollbackValkey80ToRedis70RefusesTheDump(t *testing.T) {
	requireRedis(t)
	run, err := runTrials(t, context.Background(), runSetup{save: "1 1000", keys: -1}, catalogScenario(t, "rollback"))
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	why := reasons(tr)
	if tr.Verdict != result.Fail || tr.RTOS != nil || tr.ReplacementExited == "" {
		t.Fatalf("verdict %s (%s), rto %v: want fail with the replacement exited, RTO unbounded", tr.Verdict, why, tr.RTOS)
	}
	for _, want := range []string{"Can't handle RDB format version 11", "RTO unbounded", "crash-loop", "roll forward", "restore an older dump.rdb", "replicate --struct"} {
		if !strings.Contains(why, want) {
			t.Errorf("reasons lack %q: %s", want, why)
		}
	}
	if orig, repl := serverOf(tr, "original"), serverOf(tr, "replacement"); !strings.HasPrefix(orig.Version, "valkey 8.0") || !strings.HasPrefix(repl.Version, "redis 7.0") {
		t.Errorf("servers %+v: want valkey 8.0 then redis 7.0", tr.Servers)
	}
	// The oracle: the dump the replacement refused is format 11 by its header.
	if d, ok := dumpOf(tr, "dump.rdb"); !ok || d.RDBVersion != 11 || d.Magic != "REDIS" || d.Bytes <= 0 {
		t.Errorf("dumps %+v: want dump.rdb at RDB version 11", tr.Dumps)
	}
	if cv := tr.Client; cv == nil || cv.FirstOKAfterFaultS != nil || cv.LastErrorS == nil {
		t.Errorf("client view %+v: want errors after the fault and no success again", cv)
	}
}

func TestAccessPointUIDMismatchFailsTheFirstSave(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("run_as_uid starts the server as uid 999, which needs root")
	}
	run, err := runTrials(t, context.Background(), runSetup{save: "1 1000", keys: -1}, catalogScenario(t, "access-point-uid"))
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	why := reasons(tr)
	if tr.Verdict != result.Fail || tr.SaveFailed == "" {
		t.Fatalf("verdict %s (%s), save failed %q: want fail from the failed save, not invalid", tr.Verdict, why, tr.SaveFailed)
	}
	for _, want := range []string{"Permission denied", "MISCONF", "uid 999", "uid 1000", "posix_user", `"user": "1000:1000"`} {
		if !strings.Contains(why, want) {
			t.Errorf("reasons lack %q: %s", want, why)
		}
	}
	// Every write the client sent was refused with MISCONF: the writes fail.
	cv := tr.Client
	if cv == nil || tr.Writes == 0 || cv.Errors["misconf"] != tr.Writes || tr.Acked != 0 {
		t.Errorf("writes %d acked %d, client view %+v: want every write refused with MISCONF", tr.Writes, tr.Acked, cv)
	}
	if len(tr.Dumps) != 0 {
		t.Errorf("dumps %+v: the server could not write any", tr.Dumps)
	}
}

// On the EFS emulator the caller's permissions are checked as NFS checks
// them, so the mismatch fails the same way; an access point that enforces
// the directory owner's user (posix_user, storage access_point_uid) maps
// the server's requests to uid 1000, and the same drill passes.
func TestAccessPointUIDOnTheEmulator(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("run_as_uid starts the server as uid 999, which needs root")
	}
	leakcheck.RequireFUSE(t)
	for _, c := range []struct {
		name    string
		storage map[string]string
		verdict result.Verdict
	}{
		{"no access point: the save fails", map[string]string{"mode": "efs-elastic"}, result.Fail},
		{"access point enforces uid 1000: the drill passes", map[string]string{"mode": "efs-elastic", "access_point_uid": "1000"}, result.Pass},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := catalogScenario(t, "access-point-uid")
			s.Storage = c.storage
			run, err := runTrials(t, context.Background(), runSetup{save: "1 1000", keys: -1}, s)
			if err != nil {
				t.Fatal(err)
			}
			tr := run.Trials[0]
			if tr.Verdict != c.verdict {
				t.Fatalf("verdict %s (%s), want %s", tr.Verdict, reasons(tr), c.verdict)
			}
			if c.verdict == result.Fail {
				if tr.SaveFailed == "" || !strings.Contains(reasons(tr), "Permission denied") || tr.Client == nil || tr.Client.Errors["misconf"] != tr.Writes {
					t.Errorf("save failed %q, client %+v (%s): want Permission denied and every write refused with MISCONF", tr.SaveFailed, tr.Client, reasons(tr))
				}
				return
			}
			// The oracle: the server, as uid 999, saved dumps the access
			// point gave to uid 1000, and its replacement loaded one.
			if d, ok := dumpOf(tr, "dump.rdb"); !ok || d.RDBVersion != 11 || tr.RTOS == nil || tr.SaveFailed != "" {
				t.Errorf("dumps %+v, rto %v, save failed %q: want a saved dump.rdb and a recovery", tr.Dumps, tr.RTOS, tr.SaveFailed)
			}
		})
	}
}

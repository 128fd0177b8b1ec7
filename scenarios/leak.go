package scenarios

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// afterPreload runs what a scenario asks for between the preload and the
// measured phase: it records the dataset's RDB size (capacity sweeps need
// it per trial) and crashes the server during BGSAVEs (bgsave_crashes).
func (tr *trialRun) afterPreload(ctx context.Context, inst target.Instance) error {
	s := tr.plan.Scenario
	if inst.DataDir != "" {
		tr.dataset.RDBBytes = fileSize(filepath.Join(inst.DataDir, "dump.rdb"))
	}
	if s.sizeKeys > 0 {
		ds := tr.dataset
		tr.trial.Dataset = &ds
	}
	for i := 0; i < s.BGSaveCrashes; i++ {
		if err := tr.crashDuringBGSave(ctx, i+1); err != nil {
			return fmt.Errorf("crash %d of %d during BGSAVE: %w", i+1, s.BGSaveCrashes, err)
		}
	}
	return nil
}

// crashDuringBGSave starts a BGSAVE, kills the server (group) while it runs,
// and brings the replacement up: the killed child's temp-<pid>.rdb stays
// behind. No measured write is lost: the preload is on disk already.
func (tr *trialRun) crashDuringBGSave(ctx context.Context, n int) error {
	addr := tr.currentAddr()
	if err := waitBGSave(ctx, addr, false, adminLimit); err != nil {
		return err
	}
	if r, err := probe.Do(ctx, addr, time.Minute, "BGSAVE"); err != nil || r.Kind == '-' {
		return fmt.Errorf("BGSAVE: %v %s", err, r.Str)
	}
	if err := waitBGSave(ctx, addr, true, time.Minute); err != nil {
		return err
	}
	// Let the child write part of the file, as a kill mid-save does.
	if err := sleepUntil(ctx, time.Now().Add(100*time.Millisecond)); err != nil {
		return err
	}
	rep, err := tr.cfg.Target.Inject(ctx, target.Crash)
	if err != nil {
		return err
	}
	if !rep.Confirmed {
		return fmt.Errorf("the server did not go away")
	}
	rec, err := tr.cfg.Target.Recover(ctx)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	tr.addr.Store(rec.Instance.Addr)
	readyCtx, cancel := tr.readyContext(ctx, 5*time.Minute)
	_, err = probe.WaitReady(readyCtx, tr.currentAddr, probeEvery)
	cancel()
	if err != nil {
		return fmt.Errorf("replacement after the crash: %w", err)
	}
	tr.noteLeak(rec)
	tr.logf("crash %d during BGSAVE: %d temp file(s) on the volume, %.1f MB", n, len(rec.StaleTempFiles), float64(rec.StaleTempBytes)/1e6)
	return nil
}

// noteLeak records the temp files a recovery found; with keep_temp_files
// they pile up, so the latest count is the total.
func (tr *trialRun) noteLeak(rec target.Recovery) {
	if len(rec.StaleTempFiles) == 0 {
		return
	}
	tr.trial.Leaks = &result.TempFileLeak{Files: rec.StaleTempFiles, Bytes: rec.StaleTempBytes, Removed: rec.TempRemoved}
}

// faultMoment adjusts when the trial's fault lands: fault_after is a fixed
// delay after the save, and fault_during: bgsave holds the fault until a
// background save runs (the writer keeps the rules firing).
func (tr *trialRun) faultMoment(planned, saveEnded time.Time) time.Time {
	if d := time.Duration(tr.plan.Scenario.FaultAfter); d > 0 {
		return saveEnded.Add(d)
	}
	return planned
}

func (tr *trialRun) waitFaultMoment(ctx context.Context, limit time.Duration) error {
	if tr.plan.Scenario.FaultDuring != "bgsave" {
		return nil
	}
	if err := waitBGSave(ctx, tr.currentAddr(), true, limit); err != nil {
		return err
	}
	// Into the save, so its temp file has data, yet well before its end.
	return sleepUntil(ctx, time.Now().Add(50*time.Millisecond))
}

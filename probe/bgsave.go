package probe

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// adminLimit bounds SAVE/BGSAVE of a big dataset on slow storage.
const adminLimit = 10 * time.Minute

// Snapshot is one BGSAVE the harness asked for and saw complete.
type Snapshot struct {
	// ForkAfter and ForkBy bracket the fork: BGSAVE was sent at ForkAfter,
	// and its "Background saving started" reply (sent after the fork)
	// arrived by ForkBy.
	ForkAfter, ForkBy time.Time
	// Ended is the first poll that saw no save running any more.
	Ended time.Time
}

// Duration is the save's length as observed: the fork bracket's start to
// the poll that saw it end (at most one poll interval long).
func (s Snapshot) Duration() time.Duration { return s.Ended.Sub(s.ForkAfter) }

// TakeSnapshot waits out any running save, runs BGSAVE and waits for it to
// complete, so the dataset is on disk and the dirty counter starts from
// zero. It fails when the save fails or was not counted.
func (cl Client) TakeSnapshot(ctx context.Context, addr string) (Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, adminLimit)
	defer cancel()
	before, err := cl.Persistence(ctx, addr)
	if err != nil {
		return Snapshot{}, err
	}
	var snap Snapshot
	for tries := 0; ; tries++ {
		if err := cl.WaitBGSave(ctx, addr, false, adminLimit); err != nil {
			return Snapshot{}, err
		}
		snap.ForkAfter = time.Now()
		r, err := cl.Do(ctx, addr, time.Minute, "BGSAVE")
		if err != nil {
			return Snapshot{}, fmt.Errorf("BGSAVE: %w", err)
		}
		snap.ForkBy = time.Now()
		if r.Kind != '-' {
			break
		}
		if tries > 50 {
			return Snapshot{}, fmt.Errorf("BGSAVE refused %d times, last: %s", tries+1, r.Str)
		}
		// "Background save already in progress": a rule fired meanwhile.
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return Snapshot{}, fmt.Errorf("wait to retry BGSAVE: %w", err)
		}
	}
	if err := cl.WaitBGSave(ctx, addr, false, adminLimit); err != nil {
		return Snapshot{}, err
	}
	snap.Ended = time.Now()
	after, err := cl.Persistence(ctx, addr)
	if err != nil {
		return Snapshot{}, err
	}
	if after["rdb_last_bgsave_status"] != "ok" {
		return Snapshot{}, fmt.Errorf("BGSAVE failed (rdb_last_bgsave_status %s): check the server log", after["rdb_last_bgsave_status"])
	}
	if after["rdb_saves"] == before["rdb_saves"] {
		return Snapshot{}, errors.New("BGSAVE reported started but no save was counted")
	}
	return snap, nil
}

// StartBGSave asks for a background save and waits until it runs.
func (cl Client) StartBGSave(ctx context.Context, addr string) error {
	if err := cl.WaitBGSave(ctx, addr, false, adminLimit); err != nil {
		return err
	}
	r, err := cl.Do(ctx, addr, time.Minute, "BGSAVE")
	if err != nil {
		return fmt.Errorf("BGSAVE: %w", err)
	}
	if r.Kind == '-' {
		return fmt.Errorf("BGSAVE refused: %s", r.Str)
	}
	return cl.WaitBGSave(ctx, addr, true, time.Minute)
}

// Persistence is INFO persistence as a map.
func (cl Client) Persistence(ctx context.Context, addr string) (map[string]string, error) {
	info, err := cl.Info(ctx, addr, "persistence")
	if err != nil {
		return nil, fmt.Errorf("INFO persistence: %w", err)
	}
	return info, nil
}

// LastSaveTime is the server's rdb_last_save_time (unix seconds): the end
// of its last successful save, or its start-up.
func (cl Client) LastSaveTime(ctx context.Context, addr string) (int64, error) {
	info, err := cl.Persistence(ctx, addr)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(info["rdb_last_save_time"], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("rdb_last_save_time %q: %w", info["rdb_last_save_time"], err)
	}
	return v, nil
}

// WaitBGSave polls INFO persistence until a background save is running
// (running) or none is, for at most limit.
func (cl Client) WaitBGSave(ctx context.Context, addr string, running bool, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	want := map[bool]string{true: "1", false: "0"}[running]
	for {
		info, err := cl.Persistence(ctx, addr)
		if err != nil {
			return err
		}
		if info["rdb_bgsave_in_progress"] == want {
			return nil
		}
		if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
			if running {
				return fmt.Errorf("no background save started within %v: %w", limit, err)
			}
			return fmt.Errorf("wait for the running save to end: %w", err)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

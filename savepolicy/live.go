package savepolicy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

func liveClient(conn valkeyconn.Settings, addr string) *redis.Client {
	return conn.NewClient(addr, 1, valkeyconn.Timeouts{Dial: 3 * time.Second, Read: 5 * time.Second})
}

func unreachable(conn valkeyconn.Settings, addr string, err error) error {
	if rejected := conn.Explain(addr, err); errors.Is(rejected, valkeyconn.ErrRejected) {
		return badInput("%v", rejected)
	}
	return badInput("cannot read save rules from %s (%v): is Valkey running there? check --addr", addr, err)
}

// FromServer asks a running server for its save rules (CONFIG GET save).
func FromServer(ctx context.Context, conn valkeyconn.Settings, addr string) (Rules, error) {
	c := liveClient(conn, addr)
	defer c.Close()
	got, err := c.ConfigGet(ctx, "save").Result()
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("read save rules from %s: %w", addr, ctx.Err()) // interrupted: not the user's mistake
	}
	if err != nil {
		return nil, unreachable(conn, addr, err)
	}
	v, ok := got["save"]
	if !ok {
		return nil, badInput("%s answered CONFIG GET save without a save value (CONFIG renamed or restricted by ACL?): pass --save", addr)
	}
	rules, err := Parse(v)
	if err != nil {
		return nil, fmt.Errorf("%s CONFIG GET save: %w", addr, err)
	}
	return rules, nil
}

// Sample is a write rate measured on a live server.
type Sample struct {
	// Profile has one step per sampling interval and repeats, so a few
	// minutes of traffic stand for a day.
	Profile Profile
	// MeanRatePerS is changes per second over the intervals that could be
	// measured (Valkey's dirty counter: keys changed, not commands).
	MeanRatePerS float64
	// CommandsPerS is every command the server processed, reads included
	// (less this sampler's own INFO calls).
	CommandsPerS float64
	// Intervals were sampled; Skipped of them contained a completed save,
	// which resets the counter by an amount INFO does not show, so they take
	// the mean of the others.
	Intervals, Skipped int
}

// persistenceInfo is what SampleRate reads from each INFO.
type persistenceInfo struct {
	at        time.Time
	changes   int64 // rdb_changes_since_last_save
	lastSave  int64 // rdb_last_save_time
	commands  int64 // total_commands_processed
	completed bool  // all three present
}

func readInfo(ctx context.Context, c *redis.Client) (persistenceInfo, error) {
	text, err := c.Info(ctx, "persistence", "stats").Result()
	if err != nil {
		return persistenceInfo{}, err
	}
	info := persistenceInfo{at: time.Now()}
	seen := 0
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "rdb_changes_since_last_save":
			info.changes, seen = n, seen+1
		case "rdb_last_save_time":
			info.lastSave, seen = n, seen+1
		case "total_commands_processed":
			info.commands, seen = n, seen+1
		}
	}
	info.completed = seen == 3
	return info, nil
}

// SampleRate measures a live server's change rate over period from
// INFO persistence and stats, read about every second (at least 10 times for
// short periods). The result's Profile replays the measured steps.
func SampleRate(ctx context.Context, conn valkeyconn.Settings, addr string, period time.Duration) (Sample, error) {
	if period < 200*time.Millisecond {
		return Sample{}, badInput("sample period %v: too short to measure a rate, use at least 1s", period)
	}
	step := min(time.Second, period/10)
	c := liveClient(conn, addr)
	defer c.Close()
	prev, err := readInfo(ctx, c)
	if err != nil {
		return Sample{}, unreachable(conn, addr, err)
	}
	if !prev.completed {
		return Sample{}, badInput("%s: INFO lacks rdb_changes_since_last_save / total_commands_processed: not a Valkey or Redis server?", addr)
	}
	type interval struct {
		dur   time.Duration
		rate  float64
		known bool
	}
	var intervals []interval
	var known, commands float64
	var knownTime time.Duration
	start := prev.at
	timer := time.NewTimer(step)
	defer timer.Stop()
	for next := start.Add(step); !next.After(start.Add(period)); next = next.Add(step) {
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return Sample{}, fmt.Errorf("sample %s: %w", addr, ctx.Err())
		case <-timer.C:
		}
		cur, err := readInfo(ctx, c)
		if err != nil {
			return Sample{}, fmt.Errorf("sample %s: %w", addr, err)
		}
		dt := cur.at.Sub(prev.at)
		iv := interval{dur: dt}
		if cur.lastSave == prev.lastSave && cur.changes >= prev.changes && dt > 0 {
			iv.rate, iv.known = float64(cur.changes-prev.changes)/dt.Seconds(), true
			known += float64(cur.changes - prev.changes)
			knownTime += dt
		}
		commands += float64(cur.commands - prev.commands - 1) // less our INFO
		intervals = append(intervals, iv)
		prev = cur
	}
	s := Sample{Intervals: len(intervals), Profile: Profile{Repeat: true}}
	if knownTime == 0 {
		return s, fmt.Errorf("sample %s: a save completed in every interval, so no change rate could be read: sample for longer", addr)
	}
	s.MeanRatePerS = known / knownTime.Seconds()
	s.CommandsPerS = commands / prev.at.Sub(start).Seconds()
	for _, iv := range intervals {
		if !iv.known {
			iv.rate = s.MeanRatePerS
			s.Skipped++
		}
		s.Profile.Steps = append(s.Profile.Steps, Step{For: iv.dur, RatePerS: iv.rate})
	}
	return s, nil
}

package scenarios

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/trigpointing/valkey-chaos/judge"
	"github.com/trigpointing/valkey-chaos/progress"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// killOnLine logs a run's progress and, on the first line of each trial
// that contains the next of its phrases, crashes the target's current
// server (the replacement, by then) and waits until its process is gone,
// before the phase the line announces goes on: as an ECS health check
// that kills the recovered task mid read-back. No sleep synchronises it:
// the runner prints the line, then reads.
type killOnLine struct {
	t      *testing.T
	tgt    Target
	mu     sync.Mutex
	phrase []string
	killed []string
}

func (k *killOnLine) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.phrase) > 0 && strings.Contains(string(p), k.phrase[0]) {
		if _, err := k.tgt.Inject(context.Background(), target.Crash); err != nil {
			k.t.Errorf("crash the replacement on %q: %v", k.phrase[0], err)
		}
		k.killed, k.phrase = append(k.killed, k.phrase[0]), k.phrase[1:]
	}
	return testWriter{k.t}.Write(p)
}

// A replacement that recovered and served, then went away during the
// read-back (before the MGETs, or before the scan for unexpected keys:
// "scan for unexpected keys: EOF" on ECS), is the trial's failure, not a
// harness error: the run goes on to its next trial and exits as failed
// (3), the trial's RTO stands, and what was lost is unknown (unread),
// never "nothing lost". result.json on disk says so.
func TestReplacementGoneDuringReadBackFailsTheTrial(t *testing.T) {
	var out string
	kill := &killOnLine{t: t, phrase: []string{"reading back", "scanning for unexpected keys"}}
	run, err := runTrialsWith(t, context.Background(), runSetup{save: "1 1000"}, trialOpts{
		out:    &out,
		wrap:   func(tg Target) Target { kill.tgt = tg; return tg },
		config: func(c *Config) { c.Progress = kill },
	}, quick(t, "crash", "30s"), quick(t, "crash", "30s"))
	if err != nil {
		t.Fatalf("run: %v, want no harness error", err)
	}
	if len(kill.killed) != 2 {
		t.Fatalf("killed the replacement on %q, want on both phrases", kill.killed)
	}
	onDisk, err := result.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*result.Run{run, onDisk} {
		if !r.Complete || r.Interrupted != "" || len(r.Trials) != 2 {
			t.Fatalf("run complete %v, interrupted %q, %d trials; want both trials run", r.Complete, r.Interrupted, len(r.Trials))
		}
		for i, step := range []string{"read back", "scan for unexpected keys"} {
			tr := r.Trials[i]
			if tr.Verdict != result.Fail || !strings.Contains(strings.Join(tr.Reasons, "; "), "stopped serving after it had recovered, during the read-back") {
				t.Errorf("trial %d: verdict %s (%q), want a failure: the cache stopped serving", i, tr.Verdict, tr.Reasons)
			}
			if !strings.HasPrefix(tr.StoppedServing, step) || tr.Unread == "" || tr.Lost != 0 || tr.LossWindowS != nil || tr.Files.Found != "" {
				t.Errorf("trial %d: stopped serving %q (want it to start %q), unread %q, lost %d, loss window %+v, found file %q: want the loss unknown",
					i, tr.StoppedServing, step, tr.Unread, tr.Lost, tr.LossWindowS, tr.Files.Found)
			}
			if tr.RTOS == nil || tr.Acked == 0 || tr.Files.History == "" {
				t.Errorf("trial %d: RTO %v, acked %d, history %q: want the recovery and the writes recorded", i, tr.RTOS, tr.Acked, tr.Files.History)
			}
			for _, a := range tr.Assumptions {
				if a.Name == "finished" && !a.Held {
					t.Errorf("trial %d: %s", i, a.Detail)
				}
			}
			if line := progress.TrialLine(&tr); !strings.Contains(line, "lost unknown") || strings.Contains(line, "nothing lost") {
				t.Errorf("trial %d: summary %q, want lost unknown", i, line)
			}
		}
	}
	if err := judge.Outcome(run); !errors.Is(err, result.ErrFailed) {
		t.Errorf("outcome %v, want failed (exit 3)", err)
	}
}

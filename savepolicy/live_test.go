package savepolicy

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

func TestFromServer(t *testing.T) {
	addr := startValkey(t, "--save", "120 7 30 500")
	rules, err := FromServer(context.Background(), valkeyconn.Settings{}, addr)
	if err != nil || rules.String() != "120 7 30 500" {
		t.Fatalf("FromServer = %q, %v; want the server's 120 7 30 500", rules, err)
	}
	off := startValkey(t, "--save", "")
	rules, err = FromServer(context.Background(), valkeyconn.Settings{}, off)
	if err != nil || len(rules) != 0 {
		t.Fatalf(`FromServer with save "" = %q, %v; want no rules`, rules, err)
	}
}

func TestFromServerUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nobody listens there now
	_, err = FromServer(context.Background(), valkeyconn.Settings{}, addr)
	if err == nil || !errors.Is(err, result.ErrBadInput) {
		t.Fatalf("FromServer on a closed port: %v, want a bad-input error", err)
	}
}

// TestSampleRate writes at about 500 changes/s for a bounded time and checks
// the sampled rate, with a generous tolerance for a shared machine.
func TestSampleRate(t *testing.T) {
	addr := startValkey(t, "--save", "")
	c := redis.NewClient(&redis.Options{
		Addr: addr, Protocol: 2, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	const batch, every, batches = 25, 50 * time.Millisecond, 80 // 500/s for 4 s
	done := make(chan error, 1)
	go func() {
		start := time.Now()
		for i := 0; i < batches; i++ {
			pipe := c.Pipeline()
			for j := 0; j < batch; j++ {
				pipe.Set(ctx, "vc:sample:"+time.Now().String(), "x", 0)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				done <- err
				return
			}
			time.Sleep(time.Until(start.Add(time.Duration(i+1) * every)))
		}
		done <- nil
	}()
	time.Sleep(500 * time.Millisecond)
	s, err := SampleRate(ctx, valkeyconn.Settings{}, addr, 2*time.Second)
	if werr := <-done; werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.MeanRatePerS < 250 || s.MeanRatePerS > 750 {
		t.Fatalf("sampled %.1f changes/s, want about 500", s.MeanRatePerS)
	}
	if s.CommandsPerS < s.MeanRatePerS {
		t.Errorf("commands/s %.1f below changes/s %.1f", s.CommandsPerS, s.MeanRatePerS)
	}
	if s.Intervals < 2 || len(s.Profile.Steps) != s.Intervals || !s.Profile.Repeat {
		t.Errorf("profile %+v from %d intervals", s.Profile, s.Intervals)
	}
	if mean := s.Profile.MeanRate(); mean < 250 || mean > 750 {
		t.Errorf("the sampled profile replays %.1f changes/s", mean)
	}
}

// The parser agrees with the server on what a save rule may be, and a rule
// with 0 changes is a timer there: it saves with nothing changed (the reason
// CheckAimable refuses to aim a write rate at it).
func TestZeroChangeRuleIsATimerOnTheServer(t *testing.T) {
	addr := startValkey(t, "--save", "")
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer rdb.Close()
	ctx := context.Background()
	for _, rules := range []string{"900 0", "1 0", "0 1", "900 -1", "900"} {
		_, perr := Parse(rules)
		serr := rdb.ConfigSet(ctx, "save", rules).Err()
		if (perr == nil) != (serr == nil) {
			t.Errorf("save %q: Parse says %v, the server says %v", rules, perr, serr)
		}
	}
	if err := rdb.ConfigSet(ctx, "save", "1 0").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := rdb.InfoMap(ctx, "persistence").Result()
		if err != nil {
			t.Fatal(err)
		}
		p := info["Persistence"]
		if p["rdb_saves"] != "0" {
			if p["rdb_changes_since_last_save"] != "0" {
				t.Errorf("changes since last save %s, want 0: nothing was written", p["rdb_changes_since_last_save"])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf(`save "1 0" made no snapshot within 30 s: %v`, p)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// An interrupted read is an interruption, not a server missing at --addr.
func TestFromServerInterrupted(t *testing.T) {
	addr := startValkey(t, "--save", "60 1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := FromServer(ctx, valkeyconn.Settings{}, addr)
	if err == nil || errors.Is(err, result.ErrBadInput) || !errors.Is(err, context.Canceled) {
		t.Fatalf("FromServer with a cancelled context: %v, want context.Canceled and not bad input", err)
	}
}

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
)

func TestFromServer(t *testing.T) {
	addr := startValkey(t, "--save", "120 7 30 500")
	rules, err := FromServer(context.Background(), addr)
	if err != nil || rules.String() != "120 7 30 500" {
		t.Fatalf("FromServer = %q, %v; want the server's 120 7 30 500", rules, err)
	}
	off := startValkey(t, "--save", "")
	rules, err = FromServer(context.Background(), off)
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
	_, err = FromServer(context.Background(), addr)
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
	s, err := SampleRate(ctx, addr, 2*time.Second)
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

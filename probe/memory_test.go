package probe_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target/local"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// requireServer fails (never skips): these tests measure a real server.
func requireServer(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("valkey-server"); err != nil {
		t.Fatalf("valkey-server is required (run scripts/setup.sh): %v", err)
	}
}

func spawn(t *testing.T, limit int64, extra ...string) *local.Server {
	t.Helper()
	requireServer(t)
	srv, err := local.Spawn(local.ServerConfig{Dir: t.TempDir(), Save: "", MemoryLimit: limit, ExtraArgs: extra})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(srv) })
	waitAccepting(t, srv)
	return srv
}

func client(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr: addr, Protocol: 2, DisableIdentity: true, ReadTimeout: 30 * time.Second, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// setAll writes keys with 100-byte values in pipelines of 1000; ttl 0: none.
func setAll(t *testing.T, c *redis.Client, keys []string, ttl time.Duration) {
	t.Helper()
	ctx := context.Background()
	val := strings.Repeat("v", 100)
	for from := 0; from < len(keys); from += 1000 {
		pipe := c.Pipeline()
		for _, k := range keys[from:min(from+1000, len(keys))] {
			pipe.Set(ctx, k, val, ttl)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("set: %v", err)
		}
	}
}

// missing returns the keys absent on read-back.
func missing(t *testing.T, c *redis.Client, keys []string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	out := map[string]bool{}
	for from := 0; from < len(keys); from += 1000 {
		pipe := c.Pipeline()
		cmds := map[string]*redis.IntCmd{}
		for _, k := range keys[from:min(from+1000, len(keys))] {
			cmds[k] = pipe.Exists(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("exists: %v", err)
		}
		for k, cmd := range cmds {
			if cmd.Val() == 0 {
				out[k] = true
			}
		}
	}
	return out
}

func infoInt(t *testing.T, addr, section, field string) int64 {
	t.Helper()
	f, err := probe.Info(context.Background(), addr, section)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(f[field], 10, 64)
	if err != nil {
		t.Fatalf("INFO %s %s = %q", section, field, f[field])
	}
	return n
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%sd:%d", prefix, i)
	}
	return out
}

func sameSet(a, b map[string]bool) (onlyA, onlyB int) {
	for k := range a {
		if !b[k] {
			onlyA++
		}
	}
	for k := range b {
		if !a[k] {
			onlyB++
		}
	}
	return
}

func TestEvictedKeysRecordedAreTheKeysMissing(t *testing.T) {
	srv := spawn(t, 0, "--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lru")
	addr := srv.Addr()
	ctx := context.Background()
	const prefix = "vc:ev:"
	rec, err := probe.RecordKeyEvents(ctx, fixed(addr), prefix)
	if err != nil {
		t.Fatal(err)
	}
	mem := probe.WatchMemory(ctx, fixed(addr), 20*time.Millisecond, nil)
	c := client(t, addr)
	keys := names(prefix, 200_000) // about 40 MB: twice maxmemory
	setAll(t, c, names("other:", 1000), 0)
	setAll(t, c, keys, 0)
	evicted := infoInt(t, addr, "stats", "evicted_keys")
	if evicted < 50_000 {
		t.Fatalf("evicted_keys %d: the dataset did not exceed maxmemory", evicted)
	}
	// A server over maxmemory evicts on any command, reads too; lifting the
	// limit freezes the keyspace so the read-back is an exact oracle.
	if rep, err := probe.Do(ctx, addr, time.Second, "CONFIG", "SET", "maxmemory", "0"); err != nil || rep.IsError() {
		t.Fatalf("lift maxmemory: %v %v", rep, err)
	}
	evicted = infoInt(t, addr, "stats", "evicted_keys")
	gone := missing(t, c, keys)
	// The notifications trail the evictions: wait until every one arrived.
	var ev probe.KeyEvents
	for deadline := time.Now().Add(60 * time.Second); ; {
		ev = rec.Events()
		if ev.EvictedEvents+ev.Other >= evicted || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ev = rec.Stop()
	if got := ev.EvictedEvents + ev.Other; got != evicted {
		t.Fatalf("recorded %d evictions, the server counted %d", got, evicted)
	}
	if onlyRec, onlyGone := sameSet(ev.Evicted, gone); onlyRec != 0 || onlyGone != 0 || len(gone) == 0 {
		t.Errorf("recorded evicted %d, missing on read-back %d: %d recorded but present, %d missing but not recorded",
			len(ev.Evicted), len(gone), onlyRec, onlyGone)
	}
	if len(ev.Gaps) != 0 || len(ev.Expired) != 0 {
		t.Errorf("gaps %v, expired %d: want none", ev.Gaps, len(ev.Expired))
	}
	sum := mem.Stop()
	if sum.EvictedKeys != infoInt(t, addr, "stats", "evicted_keys") || sum.ExpiredKeys != 0 {
		t.Errorf("memory watcher counted %d evicted, %d expired; the server %d evicted", sum.EvictedKeys, sum.ExpiredKeys, evicted)
	}
}

func TestExpiredKeysRecordedAreTheKeysMissing(t *testing.T) {
	srv := spawn(t, 0)
	addr := srv.Addr()
	ctx := context.Background()
	const prefix = "vc:ex:"
	rec, err := probe.RecordKeyEvents(ctx, fixed(addr), prefix)
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, addr)
	keys := names(prefix, 2000)
	rand.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	setAll(t, c, keys[:500], 100*time.Millisecond)
	setAll(t, c, keys[500:], 0)
	for deadline := time.Now().Add(60 * time.Second); infoInt(t, addr, "stats", "expired_keys") < 500; {
		if time.Now().After(deadline) {
			t.Fatal("the server never expired the 500 keys")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var ev probe.KeyEvents
	for deadline := time.Now().Add(30 * time.Second); ev.ExpiredEvents < 500 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		ev = rec.Events()
	}
	ev = rec.Stop()
	want := map[string]bool{}
	for _, k := range keys[:500] {
		want[k] = true
	}
	gone := missing(t, c, keys)
	if a, b := sameSet(ev.Expired, want); a != 0 || b != 0 {
		t.Errorf("recorded %d expired keys: %d not given a TTL, %d with a TTL not recorded", len(ev.Expired), a, b)
	}
	if a, b := sameSet(ev.Expired, gone); a != 0 || b != 0 {
		t.Errorf("recorded expired vs missing on read-back: %d / %d differ", a, b)
	}
}

func TestKeyEventsResubscribeAfterARestart(t *testing.T) {
	requireServer(t)
	dir := t.TempDir()
	srv, err := local.Spawn(local.ServerConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	waitAccepting(t, srv)
	addr := srv.Addr()
	port, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	rec, err := probe.RecordKeyEvents(context.Background(), fixed(addr), "vc:")
	if err != nil {
		stopServer(srv)
		t.Fatal(err)
	}
	stopServer(srv)
	srv2, err := local.Spawn(local.ServerConfig{Dir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(srv2) })
	waitAccepting(t, srv2)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if ev := rec.Events(); len(ev.Gaps) == 1 && !ev.Gaps[0].To.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recorder did not resubscribe: %+v", rec.Events().Gaps)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The replacement started without notifications; the recorder turned them on.
	if rep, _ := probe.Do(context.Background(), addr, time.Second, "CONFIG", "GET", "notify-keyspace-events"); len(rep.Array) != 2 || !strings.Contains(rep.Array[1].Str, "e") {
		t.Errorf("notify-keyspace-events after the restart: %s", rep)
	}
	c := client(t, addr)
	setAll(t, c, []string{"vc:ttl"}, 10*time.Millisecond)
	for deadline := time.Now().Add(30 * time.Second); !rec.Events().Expired["vc:ttl"]; {
		c.Exists(context.Background(), "vc:ttl") // an access expires it at once
		if time.Now().After(deadline) {
			t.Fatal("expiry after the restart not recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ev := rec.Stop()
	if g := ev.Gaps[0]; !g.To.After(g.From) {
		t.Errorf("gap %v", g)
	}
}

func TestMemoryWatcherMatchesTheServerAndTheCgroup(t *testing.T) {
	const limit = 512 << 20
	// A usleep per key stretches the save to seconds (timer slack makes it ~60 µs).
	srv := spawn(t, limit, "--rdb-key-save-delay", "1")
	addr := srv.Addr()
	ctx := context.Background()
	if _, err := loadgen.Preload(ctx, valkeyconn.Settings{}, addr, "vc:m:", 100_000, 100, 4); err != nil {
		t.Fatal(err)
	}
	w := probe.WatchMemory(ctx, fixed(addr), 20*time.Millisecond, srv)
	ow, err := loadgen.StartOverwriter(ctx, loadgen.OverwriteConfig{
		Addr: fixed(addr), Prefix: "vc:m:", Keys: 100_000, Pacer: loadgen.ConstantPacer{Freq: 20_000},
		MaxOps: 100_000, MaxDuration: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ow.Stop()
	if rep, err := probe.Do(ctx, addr, 5*time.Second, "BGSAVE"); err != nil || !strings.Contains(rep.Str, "started") {
		t.Fatalf("BGSAVE: %v %v", rep, err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if infoInt(t, addr, "persistence", "rdb_bgsave_in_progress") == 0 && infoInt(t, addr, "persistence", "rdb_saves") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("BGSAVE never finished")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ow.Stop()
	sum := w.Stop()
	// Oracles: the server's INFO after the save, the cgroup's own files.
	if want := infoInt(t, addr, "persistence", "rdb_last_cow_size"); sum.CowBytes != want || want <= 0 {
		t.Errorf("cow %d, INFO rdb_last_cow_size %d", sum.CowBytes, want)
	}
	if want := float64(infoInt(t, addr, "stats", "latest_fork_usec")) / 1000; sum.ForkMs != want {
		t.Errorf("fork %.3f ms, INFO %.3f ms", sum.ForkMs, want)
	}
	if sum.CurrentCowPeak <= 0 || sum.CurrentCowPeak > sum.CowBytes {
		t.Errorf("current cow peak %d, want in (0, %d]: rdb_last_cow_size is the peak of the same samples", sum.CurrentCowPeak, sum.CowBytes)
	}
	st, err := srv.MemoryStats()
	if err != nil {
		t.Fatal(err)
	}
	if sum.LimitBytes != limit || sum.OOMKills != 0 || sum.PeakBytes > st.Peak || sum.PeakBytes < st.Peak*9/10 {
		t.Errorf("cgroup summary limit %d peak %d oom %d; the group now: %+v", sum.LimitBytes, sum.PeakBytes, sum.OOMKills, st)
	}
	if sum.UsedBytes < 100_000*100 || sum.AnonPeakBytes < sum.UsedBytes || sum.PeakBytes < sum.AnonPeakBytes {
		t.Errorf("used %d, anon peak %d, peak %d: want used <= anon peak <= peak", sum.UsedBytes, sum.AnonPeakBytes, sum.PeakBytes)
	}
	saving := 0
	for _, s := range sum.Samples {
		if s.Saving {
			saving++
		}
	}
	if saving == 0 || sum.Errors != 0 {
		t.Errorf("%d of %d samples during the save, %d errors (last: %s)", saving, len(sum.Samples), sum.Errors, sum.LastError)
	}
}

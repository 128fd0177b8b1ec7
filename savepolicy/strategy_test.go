package savepolicy

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/trigpointing/valkey-chaos/loadgen"
)

func TestStrategyServerArgs(t *testing.T) {
	rules := Rules{{900, 1}, {60, 10000}}
	tests := []struct {
		st   Strategy
		want string
	}{
		{StrategyRDB, `--save|900 1 60 10000|--appendonly|no`},
		{StrategyNone, `--save||--appendonly|no`},
		{StrategyAOFEverysec, `--save||--appendonly|yes|--appendfsync|everysec|--aof-use-rdb-preamble|yes`},
		{StrategyAOFAlways, `--save||--appendonly|yes|--appendfsync|always|--aof-use-rdb-preamble|yes`},
		{StrategyRDBAOF, `--save|900 1 60 10000|--appendonly|yes|--appendfsync|everysec|--aof-use-rdb-preamble|yes`},
	}
	for _, tt := range tests {
		if got := strings.Join(tt.st.ServerArgs(rules), "|"); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.st, got, tt.want)
		}
		if parsed, err := ParseStrategy(" " + strings.ToUpper(string(tt.st))); err != nil || parsed != tt.st {
			t.Errorf("ParseStrategy(%q) = %q, %v", tt.st, parsed, err)
		}
	}
	if _, err := ParseStrategy("aof"); err == nil || !strings.Contains(err.Error(), "aof-everysec") {
		t.Errorf("ParseStrategy(aof): %v, want an error listing the strategies", err)
	}
}

func TestStrategyAllowedLoss(t *testing.T) {
	const rdbWindow = 61 * time.Second
	tests := []struct {
		st         Strategy
		fault      Fault
		everything bool
		window     time.Duration
	}{
		{StrategyNone, FaultCrash, true, 0},
		{StrategyNone, FaultStop, true, 0},
		{StrategyRDB, FaultCrash, false, rdbWindow},
		{StrategyRDB, FaultHostLoss, false, rdbWindow},
		{StrategyRDB, FaultStop, false, 0},
		{StrategyAOFAlways, FaultCrash, false, 0},
		{StrategyAOFAlways, FaultHostLoss, false, 0},
		{StrategyAOFEverysec, FaultCrash, false, 2 * time.Second},
		{StrategyAOFEverysec, FaultHostLoss, false, 2 * time.Second},
		{StrategyAOFEverysec, FaultStop, false, 0},
		{StrategyRDBAOF, FaultHostLoss, false, 2 * time.Second},
		{StrategyRDBAOF, FaultStop, false, 0},
	}
	for _, tt := range tests {
		got := tt.st.AllowedLoss(tt.fault, rdbWindow)
		if got.Everything != tt.everything || got.Window != tt.window || got.WindowS != tt.window.Seconds() || got.Why == "" {
			t.Errorf("%s/%s: %+v, want everything %v window %v and a reason", tt.st, tt.fault, got, tt.everything, tt.window)
		}
	}
}

func TestStrategyCostArithmetic(t *testing.T) {
	st := Storage{Mode: Elastic, Prices: DefaultPrices()}
	// 160 B per SET (key 32, value 100) at 200/s: 2,764,800,000 B/day; the
	// 50 MB base doubles every 50 MB of growth: 55.296 rewrites of 50 MB.
	c := st.StrategyCost(StrategyCostInput{Strategy: StrategyAOFEverysec, RDBBytes: 50e6, WritesPerS: 200, KeyBytes: 32, ValueBytes: 100})
	appended := 160.0 * 200 * 86400
	checks := []struct {
		name      string
		got, want float64
	}{
		{"bytes per write", float64(c.AOFBytesPerWrite), 160},
		{"appended/day", c.AOFBytesPerDay, appended},
		{"rewrites/day", c.RewritesPerDay, appended / 50e6},
		{"rewrite bytes/day", c.RewriteBytesPerDay, appended},
		{"written/hour", c.WriteBytesPerHour, 2 * appended / 24},
		{"stored", c.StoredBytes, 75e6},
		{"$/day writes", c.Cost.WriteUSD, 2 * appended / 1e9 * 0.06},
		{"$/month", c.Cost.TotalUSDPerMonth, c.Cost.TotalUSD * 365 / 12},
	}
	for _, ch := range checks {
		if math.Abs(ch.got-ch.want) > 1e-6*math.Max(1, math.Abs(ch.want)) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	// A small dataset rewrites only at the 64 MiB floor; rdb+aof adds the
	// snapshots; none writes nothing.
	small := st.StrategyCost(StrategyCostInput{Strategy: StrategyRDBAOF, RDBBytes: 4 << 20, WritesPerS: 200, KeyBytes: 32, ValueBytes: 100, SavesPerDay: 1440})
	if want := appended / float64(60<<20); math.Abs(small.RewritesPerDay-want) > 1e-9 || small.SnapshotBytesPerDay != float64(4<<20)*1440 {
		t.Errorf("rdb+aof, 4 MiB: %.3f rewrites/day (want %.3f), snapshots %v B/day", small.RewritesPerDay, want, small.SnapshotBytesPerDay)
	}
	if none := st.StrategyCost(StrategyCostInput{Strategy: StrategyNone, RDBBytes: 50e6, WritesPerS: 200}); none.WriteBytesPerHour != 0 || none.Cost.TotalUSD != 0 {
		t.Errorf("none costs %+v, want nothing", none)
	}
	// rdb is exactly the snapshot model plan uses.
	rdb := st.StrategyCost(StrategyCostInput{Strategy: StrategyRDB, RDBBytes: 50e6, SavesPerDay: 1371, RestartsPerDay: 2})
	if want := st.DailyCost(50e6, 1371, 2); rdb.Cost != want {
		t.Errorf("rdb strategy cost %+v, want DailyCost's %+v", rdb.Cost, want)
	}
}

func TestTuneNamesTheAOFOptionWhenRulesCannot(t *testing.T) {
	tu, err := Tune(TuneInput{RPO: 5 * time.Second, Lo: 1, Hi: 200, RDBBytes: 50e6, Storage: Storage{Mode: Elastic, Prices: DefaultPrices()}})
	if err != nil {
		t.Fatal(err)
	}
	if tu.Feasible || tu.AOF == nil {
		t.Fatalf("feasible %v, AOF option %v: a 50 MB RDB cannot meet 5 s, the AOF option must be modelled", tu.Feasible, tu.AOF)
	}
	if tu.AOF.Scenario != "worth-it" || tu.AOF.MaxLossS != 2 || tu.AOF.Cost.AOFBytesPerWrite != 160 || tu.AOF.Cost.Cost.TotalUSDPerMonth <= 0 {
		t.Errorf("AOF option %+v", tu.AOF)
	}
	var out strings.Builder
	if err := tu.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"valkey-chaos run worth-it", "/month", fmtUSD(tu.AOF.Cost.Cost.TotalUSD) + "/day"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("tune output lacks %q:\n%s", want, out.String())
		}
	}
}

// procServer is a valkey-server that can be SIGKILLed and restarted on the
// same port and directory.
type procServer struct {
	t    *testing.T
	args []string
	addr string
	dir  string
	cmd  *exec.Cmd
}

func newProcServer(t *testing.T, args ...string) *procServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &procServer{t: t, dir: t.TempDir(), addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	s.args = append(slices.Clone(args), "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "valkey.log"), "--daemonize", "no")
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *procServer) start() {
	s.t.Helper()
	bin, err := exec.LookPath("valkey-server")
	if err != nil {
		s.t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	s.cmd = exec.Command(bin, s.args...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if pingOK(s.addr) {
			return
		}
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "valkey.log"))
	s.t.Fatalf("valkey-server %v not ready in 20 s: %s", s.args, log)
}

// kill SIGKILLs the process group and reaps it.
func (s *procServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

func (s *procServer) client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.addr, Protocol: 2, DisableIdentity: true, ReadTimeout: 10 * time.Second, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// The model's bytes per SET are what the server appends: INFO's
// aof_current_size grows by exactly that much per SET.
func TestAOFBytesPerSetMatchesServer(t *testing.T) {
	srv := newProcServer(t, StrategyAOFAlways.ServerArgs(nil)...)
	c := srv.client()
	ctx := context.Background()
	size := func() int64 {
		info, err := c.Info(ctx, "persistence").Result()
		if err != nil {
			t.Fatal(err)
		}
		return infoInt(t, info, "aof_current_size")
	}
	value := strings.Repeat("v", 100)
	_ = c.Set(ctx, "warm-up-key-selects-db-0-000000", value, 0) // the first write also appends SELECT
	before := size()
	const n = 500
	for i := range n {
		if err := c.Set(ctx, fmt.Sprintf("vc:aofsize:%020d", i), value, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := (size()-before)/n, AOFBytesPerSet(len(fmt.Sprintf("vc:aofsize:%020d", 0)), 100); got != want {
		t.Errorf("server appended %d B per SET, model says %d", got, want)
	}
}

func infoInt(t *testing.T, info, field string) int64 {
	t.Helper()
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s=%q: %v", field, v, err)
			}
			return n
		}
	}
	t.Fatalf("INFO has no %s", field)
	return 0
}

// SIGKILL under a writer, restart on the same directory, read back every
// acknowledged write: the losses must fit the strategy's AllowedLoss.
func TestStrategyCrashLoss(t *testing.T) {
	for _, st := range []Strategy{StrategyNone, StrategyAOFEverysec, StrategyAOFAlways, StrategyRDBAOF} {
		t.Run(string(st), func(t *testing.T) {
			srv := newProcServer(t, st.ServerArgs(Rules{{900, 1}})...)
			base := time.Now()
			w, err := loadgen.StartWriter(context.Background(), loadgen.WriterConfig{
				Addr: func() string { return srv.addr }, Prefix: "vc:crash:", Conns: 4, Pacer: loadgen.ConstantPacer{Freq: 1000},
				Base: base, MaxOps: 100_000, MaxDuration: 30 * time.Second, OpTimeout: 500 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(1500 * time.Millisecond)
			killAt := time.Since(base)
			srv.kill()
			h := w.Stop()
			srv.start()
			lost, acked := lostAcked(t, srv.client(), h)
			allowed := st.AllowedLoss(FaultCrash, 0)
			if allowed.Everything {
				if n, _ := srv.client().DBSize(context.Background()).Result(); n != 0 {
					t.Errorf("%d keys after a crash with no persistence, want 0", n)
				}
			}
			for _, op := range lost {
				if !allowed.Everything && killAt-op.Done > allowed.Window {
					t.Fatalf("write %d acknowledged %v before the kill was lost; %s allows %v (%s)", op.Seq, killAt-op.Done, st, allowed.Window, allowed.Why)
				}
			}
			if acked < 1000 {
				t.Fatalf("only %d writes acknowledged before the kill: the test proves little", acked)
			}
			t.Logf("%s: %d acknowledged, %d lost (%s)", st, acked, len(lost), allowed.Why)
		})
	}
}

// lostAcked reads back the History's acknowledged writes: those absent.
func lostAcked(t *testing.T, c *redis.Client, h *loadgen.History) (lost []loadgen.Op, acked int) {
	t.Helper()
	ctx := context.Background()
	pipe := c.Pipeline()
	var ops []loadgen.Op
	var cmds []*redis.IntCmd
	for _, op := range h.Ops {
		if op.Outcome == loadgen.OK {
			ops = append(ops, op)
			cmds = append(cmds, pipe.Exists(ctx, loadgen.Key("vc:crash:", op.Seq)))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && len(cmds) > 0 {
		t.Fatalf("read back: %v", err)
	}
	for i, cmd := range cmds {
		if cmd.Val() == 0 {
			lost = append(lost, ops[i])
		}
	}
	return lost, len(ops)
}

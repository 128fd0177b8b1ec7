package probe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// want is one expected event of a fixture: its kind plus the fields that
// kind carries. Only events other than Other are compared.
type want struct {
	kind     LogKind
	at       string // "15:04:05.000" in UTC; "" not checked
	role     byte
	keys     int64
	seconds  float64
	trigger  string
	childPID int
	signal   string
}

func TestParseLogFixtures(t *testing.T) {
	tests := []struct {
		file string
		want []want
	}{
		{"bgsave-and-sigterm.log", []want{
			{kind: ServerStarting}, {kind: ServerInitialized}, {kind: Ready, at: "20:33:24.971"},
			{kind: SaveTriggered, at: "20:33:26.079", trigger: "1 1"},
			{kind: BGSaveStarted, at: "20:33:26.079", role: 'M', childPID: 11833},
			{kind: DBSaved, role: 'C'}, {kind: BGSaveOK, at: "20:33:26.180"},
			{kind: BGSaveStarted, at: "20:33:27.968", childPID: 11944}, // a BGSAVE command: no trigger line
			{kind: DBSaved, role: 'C'}, {kind: BGSaveOK},
			{kind: ShutdownSignal, at: "20:33:28.000", signal: "SIGTERM"},
			{kind: ShutdownRequested}, {kind: FinalSaveStarted, at: "20:33:29.093"},
			{kind: DBSaved, role: 'M', at: "20:33:29.097"}, {kind: ReadyToExit},
		}},
		{"load-and-ready.log", []want{
			{kind: ServerStarting}, {kind: ServerInitialized, at: "20:33:43.589"},
			{kind: LoadingStarted, at: "20:33:43.589"},
			{kind: DoneLoading, keys: 300002}, {kind: DBLoaded, at: "20:33:43.839", seconds: 0.250},
			{kind: Ready, at: "20:33:43.839"},
			{kind: ShutdownSignal, signal: "SIGTERM"}, {kind: ShutdownRequested}, {kind: FinalSaveStarted},
			{kind: DBSaved, role: 'M'}, {kind: ReadyToExit},
		}},
		{"save-error-cant-exit.log", []want{
			{kind: ServerStarting}, {kind: ServerInitialized}, {kind: Ready},
			{kind: SaveTriggered, trigger: "1 1"}, {kind: BGSaveStarted, childPID: 17320},
			{kind: FailedOpeningTemp, role: 'C', childPID: 17320}, {kind: BGSaveError, at: "20:34:38.151"},
			{kind: SaveTriggered, at: "20:34:44.095"}, {kind: BGSaveStarted, childPID: 17710},
			{kind: FailedOpeningTemp, childPID: 17710}, {kind: BGSaveError},
			{kind: ShutdownSignal, signal: "SIGTERM"}, {kind: ShutdownRequested}, {kind: FinalSaveStarted},
			{kind: FailedOpeningTemp, role: 'M', childPID: 17194}, {kind: SaveErrorCantExit, at: "20:34:44.609"},
		}},
		{"sigkill-during-bgsave.log", []want{
			{kind: ServerStarting}, {kind: ServerInitialized}, {kind: LoadingStarted},
			{kind: DoneLoading, keys: 1000001}, {kind: DBLoaded, seconds: 0.896}, {kind: Ready},
			{kind: SaveTriggered}, {kind: BGSaveStarted, childPID: 19161},
			{kind: ChildBrokenPipe, role: 'C', at: "20:35:01.157"},
		}},
		{"truncated-rdb.log", []want{
			{kind: ServerStarting}, {kind: ServerInitialized}, {kind: LoadingStarted},
			{kind: ShortRead, at: "20:35:06.725"},
		}},
		{"sigterm-during-loading.log", []want{
			{kind: ServerStarting}, {kind: ServerInitialized}, {kind: LoadingStarted},
			{kind: ShutdownDuringLoading, at: "20:35:06.000"}, {kind: ShutdownRequested}, {kind: ReadyToExit},
		}},
		{"sigterm-during-bgsave.log", []want{
			{kind: ServerStarting}, {kind: ServerInitialized}, {kind: LoadingStarted},
			{kind: DoneLoading, keys: 1000002}, {kind: DBLoaded, seconds: 1.103}, {kind: Ready},
			{kind: SaveTriggered}, {kind: BGSaveStarted, childPID: 21460},
			{kind: ShutdownSignal, signal: "SIGTERM"}, {kind: ShutdownRequested}, {kind: KillingSaveChild},
			// Embedded after the child's half-written signal-handler line.
			{kind: FinalSaveStarted, at: "20:35:23.338", role: 'M'},
			{kind: DBSaved, at: "20:35:24.234"}, {kind: ReadyToExit},
		}},
		{"sigint-twice.log", []want{
			{kind: ServerStarting}, {kind: ServerInitialized}, {kind: LoadingStarted},
			{kind: DoneLoading, keys: 1000001}, {kind: DBLoaded, seconds: 0.751}, {kind: Ready},
			// The two garbled signal-handler lines are not log lines.
			{kind: ShutdownRequested}, {kind: FinalSaveStarted}, {kind: DBSaved}, {kind: ReadyToExit},
		}},
		{"sigsegv-crash.log", []want{
			{kind: ServerStarting}, {kind: ServerInitialized}, {kind: Ready},
			{kind: Crashed, at: "20:35:10.078", signal: "11"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			events, err := ParseLog(f, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			var got []LogEvent
			for _, ev := range events {
				if ev.Kind != Other {
					got = append(got, ev)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d known events, want %d:\n%s", len(got), len(tc.want), describe(got))
			}
			for i, w := range tc.want {
				if msg := w.mismatch(got[i]); msg != "" {
					t.Errorf("event %d (%s): %s", i, got[i].Text, msg)
				}
			}
		})
	}
}

func (w want) mismatch(ev LogEvent) string {
	var bad []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			bad = append(bad, fmt.Sprintf(format, args...))
		}
	}
	check(ev.Kind == w.kind, "kind %s, want %s", ev.Kind, w.kind)
	if w.at != "" {
		check(ev.Time.UTC().Format("15:04:05.000") == w.at, "time %s, want %s", ev.Time.UTC().Format("15:04:05.000"), w.at)
	}
	if w.role != 0 {
		check(ev.Role == w.role, "role %c, want %c", ev.Role, w.role)
	}
	if w.keys != 0 {
		check(ev.Keys == w.keys, "keys %d, want %d", ev.Keys, w.keys)
	}
	if w.seconds != 0 {
		check(ev.Seconds == w.seconds, "seconds %v, want %v", ev.Seconds, w.seconds)
	}
	if w.trigger != "" {
		check(ev.Trigger == w.trigger, "trigger %q, want %q", ev.Trigger, w.trigger)
	}
	if w.childPID != 0 {
		check(ev.ChildPID == w.childPID, "child pid %d, want %d", ev.ChildPID, w.childPID)
	}
	if w.signal != "" {
		check(ev.Signal == w.signal, "signal %q, want %q", ev.Signal, w.signal)
	}
	return strings.Join(bad, "; ")
}

func describe(evs []LogEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "  %s %s %q\n", ev.Time.Format("15:04:05.000"), ev.Kind, ev.Text)
	}
	return b.String()
}

func TestParseLogLine(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name  string
		line  string
		loc   *time.Location
		ok    bool
		kind  LogKind
		unix  int64 // ms
		coars bool
	}{
		{"local time in loc", "1:M 25 Nov 2026 19:38:30.070 * DB loaded from disk: 1.897 seconds", berlin, true, DBLoaded,
			time.Date(2026, 11, 25, 18, 38, 30, 70e6, time.UTC).UnixMilli(), false},
		{"signal handler in unix seconds", "7:signal-handler (1795638808) Received SIGINT scheduling shutdown...", berlin, true, ShutdownSignal, 1795638808000, true},
		{"crlf tolerated", "7:C 01 Jan 2027 00:00:00.001 # Background saving error\r\n", time.UTC, true, BGSaveError,
			time.Date(2027, 1, 1, 0, 0, 0, 1e6, time.UTC).UnixMilli(), false},
		{"redis 7 wording", "9:M 02 Feb 2026 10:00:00.000 # Redis is now ready to exit, bye bye...", time.UTC, true, ReadyToExit,
			time.Date(2026, 2, 2, 10, 0, 0, 0, time.UTC).UnixMilli(), false},
		{"unknown message", "9:M 02 Feb 2026 10:00:00.000 * RDB age 13 seconds", time.UTC, true, Other,
			time.Date(2026, 2, 2, 10, 0, 0, 0, time.UTC).UnixMilli(), false},
		{"stack trace", "/lib/x86_64-linux-gnu/libc.so.6(epoll_wait+0x56)[0x7f9b457adf36]", time.UTC, false, Other, 0, false},
		{"banner", "=== VALKEY BUG REPORT START: Cut & paste starting from here ===", time.UTC, false, Other, 0, false},
		{"empty", "", time.UTC, false, Other, 0, false},
		{"impossible date", "9:M 31 Feb 2026 10:00:00.000 * Ready to accept connections", time.UTC, false, Other, 0, false},
		{"header not at start", "noise 9:M 02 Feb 2026 10:00:00.000 * Ready to accept connections", time.UTC, false, Other, 0, false},
		{"iso8601 carries its own offset", "9:M 2026-11-25T19:38:30.070+05:30 * Ready to accept connections tcp", berlin, true, Ready,
			time.Date(2026, 11, 25, 14, 8, 30, 70e6, time.UTC).UnixMilli(), false},
		{"iso8601 negative offset", "9:C 2026-11-25T11:38:30.070-08:00 * DB saved on disk", time.UTC, true, DBSaved,
			time.Date(2026, 11, 25, 19, 38, 30, 70e6, time.UTC).UnixMilli(), false},
		{"milliseconds format", "9:M 1795638808123 * Background saving terminated with success", berlin, true, BGSaveOK, 1795638808123, false},
		{"logfmt iso8601", `pid=9 role=primary timestamp="2026-11-25T19:38:30.070+00:00" level=notice message="DB loaded from disk: 0.250 seconds"`, berlin, true, DBLoaded,
			time.Date(2026, 11, 25, 19, 38, 30, 70e6, time.UTC).UnixMilli(), false},
		{"logfmt legacy time in loc", `pid=9 role=RDB/AOF timestamp="25 Nov 2026 19:38:30.070" level=notice message="DB saved on disk"`, berlin, true, DBSaved,
			time.Date(2026, 11, 25, 18, 38, 30, 70e6, time.UTC).UnixMilli(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, ok := ParseLogLine(tc.line, tc.loc)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (event %+v)", ok, tc.ok, ev)
			}
			if !ok {
				return
			}
			if ev.Kind != tc.kind || ev.Time.UnixMilli() != tc.unix || ev.Coarse != tc.coars {
				t.Errorf("got kind %s at %d coarse %v, want %s at %d coarse %v", ev.Kind, ev.Time.UnixMilli(), ev.Coarse, tc.kind, tc.unix, tc.coars)
			}
		})
	}
}

func TestLogKindString(t *testing.T) {
	seen := map[string]LogKind{}
	for k := Other; k <= Crashed; k++ {
		s := k.String()
		if s == "" || strings.HasPrefix(s, "LogKind(") {
			t.Errorf("kind %d has no name", int(k))
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("kinds %d and %d share the name %q", int(prev), int(k), s)
		}
		seen[s] = k
	}
	if got := LogKind(99).String(); got != "LogKind(99)" {
		t.Errorf("unknown kind prints %q", got)
	}
}

func TestFollowLogWaitsForFileAndPartialLines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "server.log")
	events := FollowLog(ctx, path, time.UTC, 2*time.Millisecond)

	time.Sleep(20 * time.Millisecond) // the file does not exist yet
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write := func(s string) {
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	write("1:M 25 Nov 2026 19:38:30.070 * Background saving started by pid 42\n1:M 25 Nov 2026 19:38:31.0")
	ev := next(t, events)
	if ev.Kind != BGSaveStarted || ev.ChildPID != 42 {
		t.Fatalf("first event %+v, want bgsave-started by 42", ev)
	}
	time.Sleep(20 * time.Millisecond)
	write("00 * Background saving terminated with success\nnot a log line\n")
	if ev := next(t, events); ev.Kind != BGSaveOK || ev.Time.Format("05.000") != "31.000" {
		t.Fatalf("line completed later parsed as %+v", ev)
	}
	// Truncation (a new log): read again from the start.
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	write("2:M 25 Nov 2026 19:40:00.000 * Ready to accept connections tcp\n")
	if ev := next(t, events); ev.Kind != Ready || ev.PID != 2 {
		t.Fatalf("after truncation got %+v, want ready from pid 2", ev)
	}
	cancel()
	for range events { // must close after ctx ends
	}
}

func next(t *testing.T, events <-chan LogEvent) LogEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("event channel closed early")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return LogEvent{}
}

// A harness east (a half-hour zone) and west of UTC reads a UTC server's
// lines at their true instants once the zone comes from the event, and
// the zone of a server east of UTC is recovered as well.
func TestZoneOfEventAnyHarnessZone(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}
	instant := time.Date(2026, 11, 25, 19, 38, 30, 70e6, time.UTC)
	tests := []struct {
		harness, server *time.Location
		lag             time.Duration // driver read the line this long after it was written
	}{
		{kolkata, time.UTC, 40 * time.Millisecond},
		{la, time.UTC, 6 * time.Second},
		{time.UTC, kolkata, 3 * time.Minute},
		{la, la, 0},
	}
	defer func(saved *time.Location) { time.Local = saved }(time.Local)
	for _, tc := range tests {
		t.Run(tc.harness.String()+"/"+tc.server.String(), func(t *testing.T) {
			time.Local = tc.harness
			line := "12:M " + instant.In(tc.server).Format(logTimeLayout) + " * DB loaded from disk: 0.250 seconds"
			zone, ok := ZoneOfEvent(line, instant.Add(tc.lag))
			if !ok {
				t.Fatalf("no zone for %q", line)
			}
			ev, ok := ParseLogLine(line, zone)
			if !ok || !ev.Time.Equal(instant) {
				t.Fatalf("parsed %v (ok %v) in zone %v, want %v", ev.Time, ok, zone, instant)
			}
			// The harness's own zone is what the old code used: wrong
			// unless the harness happens to share the server's zone.
			naive, _ := ParseLogLine(line, nil)
			if _, off := instant.In(tc.harness).Zone(); off != 0 && tc.server == time.UTC && naive.Time.Equal(instant) {
				t.Errorf("harness zone %v parsed the UTC line correctly: the test does not tell zones apart", tc.harness)
			}
		})
	}
	if _, ok := ZoneOfEvent("9:M 1795638808123 * Ready", instant); ok {
		t.Error("a line with an absolute time yielded a zone")
	}
	if _, ok := ZoneOfEvent("9:M 25 Nov 2026 19:38:30.070 * Ready", instant.Add(20*time.Hour)); ok {
		t.Error("an event 20 h from its line yielded a zone")
	}
}

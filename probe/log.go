package probe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// LogKind names a server log message the harness cares about.
type LogKind int

// The messages, as Valkey 8 (and Redis 7) write them; FACTS.md §3 and
// probe/testdata hold captured examples.
const (
	Other                 LogKind = iota
	ServerStarting                // "oO0OoO0OoO0Oo Valkey is starting oO0OoO0OoO0Oo"
	ServerInitialized             // "Server initialized"
	LoadingStarted                // "Loading RDB produced by valkey version 8.0.1"
	DoneLoading                   // "Done loading RDB, keys loaded: N, keys expired: M." (Keys)
	DBLoaded                      // "DB loaded from disk: X seconds" (Seconds)
	Ready                         // "Ready to accept connections tcp"
	ShortRead                     // "Short read or OOM loading DB. Unrecoverable error, aborting now."
	LoadFailed                    // "Fatal error loading the DB ..."
	SaveTriggered                 // "N changes in S seconds. Saving..." (Trigger "S N")
	BGSaveStarted                 // "Background saving started by pid P" (ChildPID)
	DBSaved                       // "DB saved on disk" (the child after a BGSAVE, the main process after SAVE)
	BGSaveOK                      // "Background saving terminated with success"
	BGSaveError                   // "Background saving error"
	BGSaveKilled                  // "Background saving terminated by signal N"
	FailedOpeningTemp             // "Failed opening the temp RDB file temp-P.rdb ..." (ChildPID)
	SaveWriteError                // "Write error saving DB on disk: ...", "Error moving temp DB file ..."
	ForkFailed                    // "Can't save in background: fork: ..."
	ChildBrokenPipe               // "Child failed reporting info to parent, exiting. Broken pipe"
	ShutdownSignal                // "Received SIGTERM scheduling shutdown..." (Signal)
	ShutdownDuringLoading         // "Received shutdown signal during loading, scheduling shutdown."
	ShutdownRequested             // "User requested shutdown..."
	KillingSaveChild              // "There is a child saving an .rdb. Killing it!"
	FinalSaveStarted              // "Saving the final RDB snapshot before exiting."
	SaveErrorCantExit             // "Error trying to save the DB, can't exit."
	ReadyToExit                   // "Valkey is now ready to exit, bye bye..."
	Crashed                       // "valkey 8.0.1 crashed by signal: 11, si_code: 0" (Signal)
)

var kindNames = [...]string{
	Other:                 "other",
	ServerStarting:        "server-starting",
	ServerInitialized:     "server-initialized",
	LoadingStarted:        "loading-started",
	DoneLoading:           "done-loading",
	DBLoaded:              "db-loaded",
	Ready:                 "ready",
	ShortRead:             "short-read",
	LoadFailed:            "load-failed",
	SaveTriggered:         "save-triggered",
	BGSaveStarted:         "bgsave-started",
	DBSaved:               "db-saved",
	BGSaveOK:              "bgsave-ok",
	BGSaveError:           "bgsave-error",
	BGSaveKilled:          "bgsave-killed",
	FailedOpeningTemp:     "failed-opening-temp",
	SaveWriteError:        "save-write-error",
	ForkFailed:            "fork-failed",
	ChildBrokenPipe:       "child-broken-pipe",
	ShutdownSignal:        "shutdown-signal",
	ShutdownDuringLoading: "shutdown-during-loading",
	ShutdownRequested:     "shutdown-requested",
	KillingSaveChild:      "killing-save-child",
	FinalSaveStarted:      "final-save-started",
	SaveErrorCantExit:     "save-error-cant-exit",
	ReadyToExit:           "ready-to-exit",
	Crashed:               "crashed",
}

func (k LogKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "LogKind(" + strconv.Itoa(int(k)) + ")"
}

// LogEvent is one parsed server log line.
type LogEvent struct {
	Time time.Time
	// Coarse marks whole-second times: signal-handler lines carry a unix
	// time in seconds, not the millisecond local time of normal lines.
	Coarse bool
	PID    int
	Role   byte // 'M' main, 'C' save child, 'S' replica, 'X' sentinel; 0 for signal-handler lines
	Level  byte // '.' debug, '-' verbose, '*' notice, '#' warning; 0 for signal-handler lines
	Kind   LogKind
	Text   string // the message after the header

	Seconds  float64 // DBLoaded
	Keys     int64   // DoneLoading
	Trigger  string  // SaveTriggered: the rule that fired, as "seconds changes"
	ChildPID int     // BGSaveStarted, FailedOpeningTemp
	Signal   string  // ShutdownSignal ("SIGTERM"), Crashed ("11")
}

// logTimeLayout is Valkey's "%d %b %Y %H:%M:%S." plus milliseconds.
const logTimeLayout = "02 Jan 2006 15:04:05.000"

var (
	// "12811:M 25 Nov 2026 20:33:40.041 * msg"; unanchored so that a line two
	// processes interleaved ("21460:signal-handler (..) 21190:M 25 Nov ...")
	// still yields its embedded message.
	// The timestamp is any of the three log-timestamp-format values.
	headerRe = regexp.MustCompile(`(\d+):([MCSX]) (\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(?:Z|[+-]\d{2}:?\d{2})|\d{13}) ([.\-*#]) `)
	// "11728:signal-handler (1795638808) msg"
	signalRe    = regexp.MustCompile(`^(\d+):signal-handler \((\d+)\) (.*)$`)
	triggerRe   = regexp.MustCompile(`^(\d+) changes? in (\d+) seconds?\. Saving\.\.\.`)
	childPIDRe  = regexp.MustCompile(`(?:by pid |temp-)(\d+)`)
	keysRe      = regexp.MustCompile(`keys loaded: (\d+)`)
	secondsRe   = regexp.MustCompile(`DB loaded from disk: ([0-9.]+) seconds`)
	shutdownRe  = regexp.MustCompile(`^Received (SIG[A-Z]+) scheduling shutdown`)
	crashSignal = regexp.MustCompile(`crashed by signal: (\d+)`)
)

// ParseLogLine parses one server log line. Valkey writes its default
// ("legacy") timestamps in the server's local time with no zone, so loc says
// which zone that was (nil: time.Local); the ECS target derives it from each
// CloudWatch event (ZoneOfEvent), the local target runs its servers in UTC.
// Lines with a zone of their own (log-timestamp-format iso8601, Valkey 8.1's
// log-format logfmt) or a unix time (milliseconds format, signal-handler
// lines) ignore loc. It returns false for lines that are not log lines
// (banners, crash-report stack traces, lines garbled by two processes
// writing at once). Messages it does not know parse with Kind Other.
func ParseLogLine(line string, loc *time.Location) (LogEvent, bool) {
	if loc == nil {
		loc = time.Local
	}
	line = strings.TrimRight(line, "\r\n")
	if m := headerRe.FindStringSubmatchIndex(line); m != nil && (m[0] == 0 || strings.Contains(line[:m[0]], ":signal-handler (")) {
		t, coarse, ok := parseLogTime(line[m[6]:m[7]], loc)
		if !ok {
			return LogEvent{}, false
		}
		pid, _ := strconv.Atoi(line[m[2]:m[3]])
		ev := LogEvent{Time: t, Coarse: coarse, PID: pid, Role: line[m[4]], Level: line[m[8]], Text: line[m[1]:]}
		classify(&ev)
		return ev, true
	}
	if m := signalRe.FindStringSubmatch(line); m != nil {
		pid, _ := strconv.Atoi(m[1])
		sec, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			return LogEvent{}, false
		}
		ev := LogEvent{Time: time.Unix(sec, 0).In(loc), Coarse: true, PID: pid, Text: m[3]}
		classify(&ev)
		return ev, true
	}
	if ev, ok := parseLogfmt(line, loc); ok {
		classify(&ev)
		return ev, true
	}
	return LogEvent{}, false
}

// parseLogTime reads one of Valkey's three log-timestamp-format values:
// legacy (local wall time, read in loc), iso8601 (with its own offset) and
// milliseconds (unix ms).
func parseLogTime(s string, loc *time.Location) (t time.Time, coarse, ok bool) {
	switch {
	case len(s) == len(logTimeLayout) && s[2] == ' ':
		t, err := time.ParseInLocation(logTimeLayout, s, loc)
		return t, false, err == nil
	case strings.Contains(s, "T"):
		t, err := time.Parse(isoLogLayout, s)
		return t, false, err == nil
	default:
		ms, err := strconv.ParseInt(s, 10, 64)
		return time.UnixMilli(ms), false, err == nil
	}
}

// isoLogLayout is log-timestamp-format iso8601: "%Y-%m-%dT%H:%M:%S.mmm"
// plus the server's offset ("+05:30"; Go accepts "Z" for it too).
const isoLogLayout = "2006-01-02T15:04:05.000Z07:00"

// logfmt roles and levels, as Valkey 8.1 names them, mapped to the legacy
// format's characters.
var (
	logfmtRoles  = map[string]byte{"sentinel": 'X', "RDB/AOF": 'C', "replica": 'S', "primary": 'M', "master": 'M'}
	logfmtLevels = map[string]byte{"debug": '.', "verbose": '-', "info": '-', "notice": '*', "warning": '#'}
	logfmtRe     = regexp.MustCompile(`^pid=(\d+) role=(\S+) timestamp="([^"]+)" level=(\S+) message="(.*)"$`)
)

// parseLogfmt reads a log-format logfmt line:
// pid=1 role=primary timestamp="2026-11-25T19:38:30.070+00:00" level=notice message="Server initialized"
func parseLogfmt(line string, loc *time.Location) (LogEvent, bool) {
	m := logfmtRe.FindStringSubmatch(line)
	if m == nil {
		return LogEvent{}, false
	}
	t, coarse, ok := parseLogTime(m[3], loc)
	if !ok {
		return LogEvent{}, false
	}
	pid, _ := strconv.Atoi(m[1])
	return LogEvent{Time: t, Coarse: coarse, PID: pid, Role: logfmtRoles[m[2]], Level: logfmtLevels[m[4]], Text: m[5]}, true
}

// ZoneOfEvent is the zone a log line's legacy (zone-less) timestamp was
// written in, given an instant the line is known to be close to: the
// CloudWatch event's timestamp (the moment the log driver read the line).
// The offset is the difference rounded to 15 minutes, the granularity of
// every zone in use, so a driver lag of up to 7.5 minutes cannot shift it.
// ok is false when the line has no legacy timestamp (its zone is then
// irrelevant).
func ZoneOfEvent(line string, at time.Time) (*time.Location, bool) {
	m := headerRe.FindStringSubmatch(line)
	if m == nil || len(m[3]) != len(logTimeLayout) || m[3][2] != ' ' {
		return nil, false
	}
	wall, err := time.ParseInLocation(logTimeLayout, m[3], time.UTC)
	if err != nil {
		return nil, false
	}
	offset := wall.Sub(at).Round(15 * time.Minute)
	if offset < -14*time.Hour || offset > 14*time.Hour {
		return nil, false // no zone is that far from UTC: the timestamp is not the line's
	}
	if offset == 0 {
		return time.UTC, true
	}
	return time.FixedZone(fmt.Sprintf("UTC%+03d:%02d", int(offset.Hours()), abs(int(offset.Minutes())%60)), int(offset.Seconds())), true
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// classify sets Kind and the numbers a message carries.
func classify(ev *LogEvent) {
	msg := ev.Text
	has := func(s string) bool { return strings.Contains(msg, s) }
	pre := func(s string) bool { return strings.HasPrefix(msg, s) }
	switch {
	case pre("oO0OoO0OoO0Oo") && has("is starting"):
		ev.Kind = ServerStarting
	case pre("Server initialized"):
		ev.Kind = ServerInitialized
	case pre("Loading RDB produced by"):
		ev.Kind = LoadingStarted
	case pre("Done loading RDB"):
		ev.Kind = DoneLoading
		if m := keysRe.FindStringSubmatch(msg); m != nil {
			ev.Keys, _ = strconv.ParseInt(m[1], 10, 64)
		}
	case pre("DB loaded from disk"):
		ev.Kind = DBLoaded
		if m := secondsRe.FindStringSubmatch(msg); m != nil {
			ev.Seconds, _ = strconv.ParseFloat(m[1], 64)
		}
	case pre("Ready to accept connections"):
		ev.Kind = Ready
	case pre("Short read or OOM loading DB"):
		ev.Kind = ShortRead
	case pre("Fatal error loading the DB"):
		ev.Kind = LoadFailed
	case triggerRe.MatchString(msg):
		m := triggerRe.FindStringSubmatch(msg)
		ev.Kind, ev.Trigger = SaveTriggered, m[2]+" "+m[1]
	case pre("Background saving started"):
		ev.Kind = BGSaveStarted
		ev.ChildPID = childPID(msg)
	case pre("DB saved on disk"):
		ev.Kind = DBSaved
	case pre("Background saving terminated with success"):
		ev.Kind = BGSaveOK
	case pre("Background saving error"):
		ev.Kind = BGSaveError
	case pre("Background saving terminated by signal"):
		ev.Kind = BGSaveKilled
	case pre("Failed opening the temp RDB file"):
		ev.Kind = FailedOpeningTemp
		ev.ChildPID = childPID(msg)
	case pre("Write error saving DB on disk"), pre("Write error while saving DB"), pre("Error moving temp DB file"):
		ev.Kind = SaveWriteError
	case pre("Can't save in background"):
		ev.Kind = ForkFailed
	case pre("Child failed reporting info to parent"):
		ev.Kind = ChildBrokenPipe
	case shutdownRe.MatchString(msg):
		ev.Kind, ev.Signal = ShutdownSignal, shutdownRe.FindStringSubmatch(msg)[1]
	case pre("Received shutdown signal during loading"):
		ev.Kind = ShutdownDuringLoading
	case pre("User requested shutdown"):
		ev.Kind = ShutdownRequested
	case pre("There is a child saving an .rdb"):
		ev.Kind = KillingSaveChild
	case pre("Saving the final RDB snapshot"):
		ev.Kind = FinalSaveStarted
	case pre("Error trying to save the DB, can't exit"):
		ev.Kind = SaveErrorCantExit
	case has("ready to exit, bye bye"):
		ev.Kind = ReadyToExit
	case has("crashed by signal"):
		ev.Kind = Crashed
		if m := crashSignal.FindStringSubmatch(msg); m != nil {
			ev.Signal = m[1]
		}
	default:
		ev.Kind = Other
	}
}

func childPID(msg string) int {
	if m := childPIDRe.FindStringSubmatch(msg); m != nil {
		pid, _ := strconv.Atoi(m[1])
		return pid
	}
	return 0
}

// maxLogLine bounds one log line (crash reports and CLIENT LIST dumps are long).
const maxLogLine = 1 << 20

// ParseLog parses every log line of r, skipping lines that are not log lines.
func ParseLog(r io.Reader, loc *time.Location) ([]LogEvent, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLogLine)
	var events []LogEvent
	for sc.Scan() {
		if ev, ok := ParseLogLine(sc.Text(), loc); ok {
			events = append(events, ev)
		}
	}
	if err := sc.Err(); err != nil {
		return events, fmt.Errorf("read server log: %w", err)
	}
	return events, nil
}

// FollowLog tails the log file at path, which may not exist yet, checking
// for new complete lines every `every`, and sends each parsed event. A file
// that shrinks (truncated or replaced) is read again from the start. The
// channel closes when ctx ends; a reader must keep receiving until then.
func FollowLog(ctx context.Context, path string, loc *time.Location, every time.Duration) <-chan LogEvent {
	if every <= 0 {
		every = 10 * time.Millisecond
	}
	out := make(chan LogEvent, 256)
	go func() {
		defer close(out)
		var offset int64
		var partial []byte
		buf := make([]byte, 64<<10)
		for {
			if n, err := readFrom(path, &offset, &partial, buf, func(line []byte) bool {
				ev, ok := ParseLogLine(string(line), loc)
				if !ok {
					return true
				}
				select {
				case out <- ev:
					return true
				case <-ctx.Done():
					return false
				}
			}); err == nil && n > 0 {
				continue // more may be waiting: read again before sleeping
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
		}
	}()
	return out
}

// readFrom reads what was appended to path since *offset, hands complete
// lines to emit and keeps an unterminated tail in *partial. It returns the
// number of bytes read.
func readFrom(path string, offset *int64, partial *[]byte, buf []byte, emit func([]byte) bool) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() < *offset {
		*offset, *partial = 0, (*partial)[:0]
	}
	n, err := f.ReadAt(buf, *offset)
	if n == 0 {
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return 0, err
	}
	*offset += int64(n)
	data := append(*partial, buf[:n]...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if !emit(data[:i]) {
			return n, context.Canceled
		}
		data = data[i+1:]
	}
	if len(data) > maxLogLine {
		data = data[:0] // a runaway line: drop it rather than grow without bound
	}
	*partial = append((*partial)[:0], data...)
	return n, nil
}

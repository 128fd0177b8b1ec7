package ecstwin

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"sync"
	"time"

	"github.com/trigpointing/valkey-chaos/target/local"
)

// The awslogs driver as the twin plays it: a shipper reads each line the
// container writes as it appears and stamps it with the moment it read it
// (the event timestamp, epoch ms: nothing parses the line), holds it in a
// buffer and publishes the buffer every LogBatch (the driver's 5 s), and
// once more when the container exits. GetLogEvents sees only what was
// published, so a reader that looks too early misses lines, as on ECS.

// shipEvery is how often the shipper looks for new lines (Docker reads the
// container's stdout as it is written; this is the twin's resolution).
const shipEvery = 10 * time.Millisecond

type logBuffer struct {
	batch time.Duration
	start time.Time

	mu        sync.Mutex
	pending   []logEvent
	published []logEvent
	lastFlush time.Time
}

func newLogBuffer(batch time.Duration, start time.Time) *logBuffer {
	return &logBuffer{batch: batch, start: start, lastFlush: start}
}

func (b *logBuffer) add(line string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, logEvent{Timestamp: at.UnixMilli(), Message: line})
	if b.batch < 0 {
		b.flushLocked(at)
	}
}

// tick publishes the buffer when a batch interval has passed.
func (b *logBuffer) tick(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.lastFlush) >= b.batch {
		b.flushLocked(now)
	}
}

func (b *logBuffer) flush(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked(now)
}

func (b *logBuffer) flushLocked(now time.Time) {
	for _, e := range b.pending {
		e.IngestionTime = now.UnixMilli()
		b.published = append(b.published, e)
	}
	b.pending = b.pending[:0]
	b.lastFlush = now
}

// events returns the published events.
func (b *logBuffer) events() []logEvent {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]logEvent(nil), b.published...)
}

// shipLogs tails the task's log file until its container exits, then
// reads the rest and publishes it.
func (tw *Twin) shipLogs(t *task, srv *local.Server) {
	defer tw.wg.Done()
	var offset int64
	var partial []byte
	tick := time.NewTicker(shipEvery)
	defer tick.Stop()
	for {
		select {
		case <-tw.done:
			return
		case <-srv.Exited():
			readLines(t.logFile, &offset, &partial, t.logs.add)
			t.logs.flush(time.Now())
			return
		case now := <-tick.C:
			readLines(t.logFile, &offset, &partial, t.logs.add)
			t.logs.tick(now)
		}
	}
}

// readLines hands each complete new line of path to add, stamped with the
// moment it was read; an unterminated tail waits for its newline.
func readLines(path string, offset *int64, partial *[]byte, add func(string, time.Time)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Seek(*offset, io.SeekStart); err != nil {
		return
	}
	data, err := io.ReadAll(bufio.NewReader(f))
	if len(data) == 0 {
		return
	}
	_ = err
	*offset += int64(len(data))
	now := time.Now()
	data = append(*partial, data...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if line := string(bytes.TrimRight(data[:i], "\r")); len(bytes.TrimSpace(data[:i])) > 0 {
			add(line, now)
		}
		data = data[i+1:]
	}
	*partial = append((*partial)[:0], data...)
}

package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is advanced by the test; the Printer reads it under its lock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestPrinter(buf *bytes.Buffer) (*Printer, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	p := New(buf)
	p.now = clk.now
	return p, clk
}

func lines(buf *bytes.Buffer) []string {
	return strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
}

func TestPlainOutputIsThrottledAndShowsRateAndETA(t *testing.T) {
	var buf bytes.Buffer
	p, clk := newTestPrinter(&buf)
	if p.tty {
		t.Fatal("a bytes.Buffer was taken for a terminal")
	}
	ph := p.Phase("preload", 500000, "keys")
	// 100 updates over 10 s: one every 100 ms.
	for i := 0; i < 100; i++ {
		clk.advance(100 * time.Millisecond)
		ph.Add(5000)
	}
	ph.Done("")
	got := lines(&buf)
	want := []string{
		"preload: started, 500.0k keys",
		"preload: 250.0k/500.0k keys (50%), 50.0k keys/s, ETA 5.0s",
		"preload: 500.0k/500.0k keys (100%), 50.0k keys/s",
		"preload: done in 10.0s: 500.0k keys at 50.0k keys/s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plain output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.ContainsAny(buf.String(), "\r\x1b") {
		t.Fatalf("plain output carries terminal control characters: %q", buf.String())
	}
}

func TestWaitingPhaseShowsElapsedNotRate(t *testing.T) {
	var buf bytes.Buffer
	p, clk := newTestPrinter(&buf)
	ph := p.Phase("waiting for the snapshot cycle", 0, "s")
	clk.advance(6 * time.Second)
	ph.Set(6)
	ph.Done("save ended after 6.0s")
	got := lines(&buf)
	want := []string{
		"waiting for the snapshot cycle: started",
		"waiting for the snapshot cycle: 6 s, 6.0s elapsed",
		"waiting for the snapshot cycle: done in 6.0s: save ended after 6.0s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTerminalRedrawsOneLine(t *testing.T) {
	var buf bytes.Buffer
	p, clk := newTestPrinter(&buf)
	p.tty, p.every = true, redrawEvery
	ph := p.Phase("read-back", 2<<20, "B")
	for i := 0; i < 4; i++ {
		clk.advance(250 * time.Millisecond)
		ph.Add(512 << 10)
	}
	p.Logf("a log line while drawing")
	ph.Done("")
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 2 {
		t.Fatalf("terminal output has %d newlines, want 2 (the log line and the done line): %q", n, out)
	}
	if !strings.Contains(out, "\r\x1b[Kread-back: 1.0 MiB/2.0 MiB (50%), 2.0 MiB/s, ETA 500ms") {
		t.Fatalf("no redrawn line with rate and ETA in %q", out)
	}
	if !strings.Contains(out, "\r\x1b[Ka log line while drawing\n\r\x1b[Kread-back:") {
		t.Fatalf("log line did not clear and restore the progress line: %q", out)
	}
	if !strings.HasSuffix(out, "\r\x1b[Kread-back: done in 1.0s: 2.0 MiB at 2.0 MiB/s\n") {
		t.Fatalf("done line not final: %q", out)
	}
}

func TestDoneIsFinal(t *testing.T) {
	var buf bytes.Buffer
	p, clk := newTestPrinter(&buf)
	ph := p.Phase("recovery", 0, "steps")
	ph.Done("serving after 1.2s")
	clk.advance(time.Minute)
	ph.Add(1)
	ph.Set(5)
	ph.Done("again")
	if got := len(lines(&buf)); got != 2 {
		t.Fatalf("after Done the phase printed more: %q", buf.String())
	}
}

func TestConcurrentAdds(t *testing.T) {
	var buf bytes.Buffer
	p, clk := newTestPrinter(&buf)
	ph := p.Phase("preload", 8000, "keys")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				clk.advance(time.Millisecond)
				ph.Add(1)
			}
		}()
	}
	wg.Wait()
	ph.Done("")
	if !strings.Contains(buf.String(), "done in 8.0s: 8000 keys at 1000 keys/s") {
		t.Fatalf("lost updates under concurrency: %q", buf.String())
	}
}

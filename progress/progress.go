// Package progress shows how far long phases (preload, waiting for the
// snapshot cycle, recovery, read-back) have got, and the line each trial
// ends with (TrialLine). On a terminal it redraws one
// line with rate and ETA; otherwise (CI logs, files) it prints plain lines, at
// most one every few seconds per phase, so logs stay short.
package progress

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

const (
	// plainEvery is the least time between two plain lines of one phase.
	plainEvery = 5 * time.Second
	// redrawEvery limits terminal redraws; faster is flicker, not news.
	redrawEvery = 100 * time.Millisecond
)

// Printer writes progress for one output. Its methods are safe for
// concurrent use: loaders call Add from many goroutines.
type Printer struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	width  int
	now    func() time.Time
	every  time.Duration
	drawn  bool // a redrawable line is on screen (terminal only)
	active *Phase
}

// New returns a Printer for w. It redraws in place only when w is a terminal.
func New(w io.Writer) *Printer {
	p := &Printer{w: w, now: time.Now, every: plainEvery, width: 100}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		p.every = redrawEvery
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			p.width = cols - 1
		}
	}
	return p
}

// Logf prints one line of text, keeping any progress line below it.
func (p *Printer) Logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, strings.TrimRight(format, "\n")+"\n", args...)
	if p.active != nil {
		p.drawLocked(p.active.lineLocked())
	}
}

// Phase starts a phase. total is the expected amount of work in unit (keys,
// B, s, ...); 0 means unknown, which shows progress without percent or ETA.
func (p *Printer) Phase(name string, total float64, unit string) *Phase {
	p.mu.Lock()
	defer p.mu.Unlock()
	ph := &Phase{p: p, name: name, total: total, unit: unit, start: p.now()}
	ph.last = ph.start
	p.active = ph
	if p.tty {
		p.drawLocked(ph.lineLocked())
		return ph
	}
	if total > 0 {
		fmt.Fprintf(p.w, "%s: started, %s\n", name, amount(total, unit))
	} else {
		fmt.Fprintf(p.w, "%s: started\n", name)
	}
	return ph
}

func (p *Printer) clearLocked() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

func (p *Printer) drawLocked(line string) {
	if len(line) > p.width {
		line = line[:p.width]
	}
	fmt.Fprint(p.w, "\r\x1b[K"+line)
	p.drawn = true
}

// Phase is one long step with a known or unknown amount of work.
type Phase struct {
	p        *Printer
	name     string
	unit     string
	total    float64
	done     float64
	start    time.Time
	last     time.Time // last line printed or drawn
	finished bool
}

// Set records the amount of work done so far.
func (ph *Phase) Set(done float64) {
	ph.p.mu.Lock()
	defer ph.p.mu.Unlock()
	if ph.finished {
		return
	}
	ph.done = done
	ph.maybePrintLocked()
}

// Add records delta more work done.
func (ph *Phase) Add(delta float64) {
	ph.p.mu.Lock()
	defer ph.p.mu.Unlock()
	if ph.finished {
		return
	}
	ph.done += delta
	ph.maybePrintLocked()
}

// Done ends the phase with a one-line summary (empty: amount and rate).
// Later calls to Set, Add or Done do nothing.
func (ph *Phase) Done(summary string) {
	p := ph.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if ph.finished {
		return
	}
	ph.finished = true
	elapsed := p.now().Sub(ph.start)
	line := fmt.Sprintf("%s: done in %s", ph.name, formatDuration(elapsed))
	if summary != "" {
		line += ": " + summary
	} else if ph.done > 0 {
		line += ": " + amount(ph.done, ph.unit)
		if r := ph.rate(elapsed); r > 0 && ph.unit != "s" {
			line += " at " + amount(r, ph.unit) + "/s"
		}
	}
	p.clearLocked()
	fmt.Fprintln(p.w, line)
	if p.active == ph {
		p.active = nil
	}
}

func (ph *Phase) maybePrintLocked() {
	p := ph.p
	now := p.now()
	if now.Sub(ph.last) < p.every {
		return
	}
	ph.last = now
	if p.tty {
		p.active = ph
		p.drawLocked(ph.lineLocked())
		return
	}
	fmt.Fprintln(p.w, ph.lineLocked())
}

// lineLocked renders "preload: 120k/500k keys (24%), 41.3k keys/s, ETA 9s".
func (ph *Phase) lineLocked() string {
	elapsed := ph.p.now().Sub(ph.start)
	var b strings.Builder
	b.WriteString(ph.name + ": ")
	if ph.unit == "B" {
		b.WriteString(amount(ph.done, ph.unit))
		if ph.total > 0 {
			b.WriteString("/" + amount(ph.total, ph.unit))
		}
	} else {
		b.WriteString(quantity(ph.done))
		if ph.total > 0 {
			b.WriteString("/" + quantity(ph.total))
		}
		b.WriteString(" " + ph.unit)
	}
	if ph.total > 0 {
		fmt.Fprintf(&b, " (%.0f%%)", math.Min(100, 100*ph.done/ph.total))
	}
	r := ph.rate(elapsed)
	if r > 0 && ph.unit != "s" {
		b.WriteString(", " + amount(r, ph.unit) + "/s")
	}
	if ph.total > 0 && r > 0 && ph.done < ph.total {
		eta := time.Duration((ph.total - ph.done) / r * float64(time.Second))
		b.WriteString(", ETA " + formatDuration(eta))
	}
	if ph.total <= 0 || r <= 0 {
		b.WriteString(", " + formatDuration(elapsed) + " elapsed")
	}
	return b.String()
}

// rate is the average since the phase began: steadier than the last interval
// and honest about stalls.
func (ph *Phase) rate(elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return ph.done / elapsed.Seconds()
}

// amount renders a value with its unit: "500k keys", "1.5 MiB" (bytes in
// binary units), "9.0 s".
func amount(v float64, unit string) string {
	if unit == "B" {
		switch a := math.Abs(v); {
		case a >= 1<<30:
			return fmt.Sprintf("%.1f GiB", v/(1<<30))
		case a >= 1<<20:
			return fmt.Sprintf("%.1f MiB", v/(1<<20))
		case a >= 1<<10:
			return fmt.Sprintf("%.1f KiB", v/(1<<10))
		}
		return fmt.Sprintf("%.0f B", v)
	}
	return quantity(v) + " " + unit
}

// quantity renders a count compactly: 950, 12.3k, 1.2M, 0.25.
func quantity(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return fmt.Sprintf("%.1fG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case a == math.Trunc(a):
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// formatDuration keeps durations short: 850ms, 9.2s, 1m05s, 2h03m.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

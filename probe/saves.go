package probe

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// SaveEvent is one save seen by polling INFO persistence. Started and Ended
// are the send times of the first polls that saw the save running and
// finished; the true instants lie up to one poll interval earlier. A save
// already running when the watcher began has a zero Started; a save whose
// server went away before it finished has a zero Ended and OK false.
type SaveEvent struct {
	Started, Ended time.Time
	// StartedAfter is the send time of the last poll that saw no save
	// running and StartedBy the reply time of the first that saw it: the
	// fork lies in (StartedAfter, StartedBy). EndedAfter and EndedBy
	// bracket the end likewise. Zero when unknown.
	StartedAfter, StartedBy time.Time
	EndedAfter, EndedBy     time.Time
	OK                      bool // rdb_last_bgsave_status:ok after it ended
}

// SaveWatcher polls INFO persistence on one reused connection (reconnecting
// after errors) and records each save from the transitions of
// rdb_bgsave_in_progress and rdb_saves.
type SaveWatcher struct {
	cl     Client
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	events  []SaveEvent
	open    int           // index of the running save in events, -1 when none
	changed chan struct{} // closed and replaced on every change
	lastErr error
}

// saveState is what one INFO persistence poll says about saves.
type saveState struct {
	inProgress bool
	saves      int64 // attempts, background and foreground; -1 when the server lacks the field
	ok         bool
}

// WatchSaves starts watching addr (re-read at every reconnect) every `every`
// until Stop or ctx's end. It takes its first poll before returning, so a
// save started after it returns is seen starting; one already running then
// is recorded with a zero Started.
func (cl Client) WatchSaves(ctx context.Context, addr func() string, every time.Duration) *SaveWatcher {
	if every <= 0 {
		every = 10 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &SaveWatcher{cl: cl, cancel: cancel, done: make(chan struct{}), open: -1, changed: make(chan struct{})}
	var c *conn
	var prev *saveState
	sent := time.Now()
	if st, err := w.poll(ctx, &c, addr); err != nil {
		w.setErr(err)
	} else {
		w.observe(nil, st, time.Time{}, sent, time.Now())
		prev = &st
	}
	go w.run(ctx, c, addr, every, prev, sent)
	return w
}

func (w *SaveWatcher) run(ctx context.Context, c *conn, addr func() string, every time.Duration, prev *saveState, prevSent time.Time) {
	defer close(w.done)
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	start := prevSent
	for tick := 1; ; tick++ {
		if late := int(time.Since(start) / every); late >= tick {
			tick = late + 1
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(time.Duration(tick) * every))):
		}
		sent := time.Now()
		st, err := w.poll(ctx, &c, addr)
		received := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.setErr(err)
			continue
		}
		w.observe(prev, st, prevSent, sent, received)
		prev, prevSent = &st, sent
	}
}

// poll runs INFO persistence on *c, dialing a new connection when needed and
// dropping it after any error.
func (w *SaveWatcher) poll(ctx context.Context, c **conn, addr func() string) (saveState, error) {
	if *c == nil {
		a := addr()
		if a == "" {
			return saveState{}, errors.New("no address yet")
		}
		nc, err := w.cl.dial(ctx, a, pollTimeout)
		if err != nil {
			return saveState{}, fmt.Errorf("connect to %s: %w", a, err)
		}
		*c = nc
	}
	rep, err := (*c).do(ctx, pollTimeout, "INFO", "persistence")
	if err == nil {
		var fields map[string]string
		if fields, err = infoFields(rep); err == nil {
			return parseSaveState(fields)
		}
	}
	(*c).close()
	*c = nil
	return saveState{}, fmt.Errorf("INFO persistence: %w", err)
}

func parseSaveState(f map[string]string) (saveState, error) {
	inProgress, ok := f["rdb_bgsave_in_progress"]
	if !ok {
		return saveState{}, errors.New("INFO persistence has no rdb_bgsave_in_progress")
	}
	st := saveState{inProgress: inProgress == "1", saves: -1, ok: f["rdb_last_bgsave_status"] == "ok"}
	if s, ok := f["rdb_saves"]; ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return saveState{}, fmt.Errorf("rdb_saves %q: %w", s, err)
		}
		st.saves = n
	}
	return st, nil
}

// observe turns two consecutive polls into save events. sent is the send time
// of the poll that produced st, prevSent that of prev.
func (w *SaveWatcher) observe(prev *saveState, st saveState, prevSent, sent, received time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	startsSince := int64(0)
	switch {
	case prev == nil:
		if st.inProgress {
			w.begin(time.Time{}, time.Time{}, time.Time{}) // started before we looked
		}
		w.notify()
		return
	case st.saves >= 0 && st.saves < prev.saves:
		// rdb_saves went back: a new server process. Whatever ran in the old one never ended.
		w.open = -1
		if st.inProgress {
			w.begin(sent, prevSent, received)
		}
		w.notify()
		return
	case st.saves >= 0:
		startsSince = st.saves - prev.saves
	}
	switch {
	case !prev.inProgress && st.inProgress:
		w.begin(sent, prevSent, received)
	case prev.inProgress && !st.inProgress:
		w.end(sent, prevSent, received, st.ok)
	case prev.inProgress && st.inProgress && startsSince > 0:
		// One save ended and the next began between the polls.
		w.end(sent, prevSent, received, true)
		w.begin(sent, prevSent, received)
	case !prev.inProgress && !st.inProgress && startsSince > 0:
		// A save began and ended between the polls (or a foreground SAVE, which
		// blocks the server and so the poll): it lies within (prevSent, sent).
		w.events = append(w.events, SaveEvent{StartedAfter: prevSent, Started: sent, StartedBy: received,
			EndedAfter: prevSent, Ended: sent, EndedBy: received, OK: st.ok})
	}
	w.notify()
}

func (w *SaveWatcher) begin(at, after, by time.Time) {
	w.events = append(w.events, SaveEvent{Started: at, StartedAfter: after, StartedBy: by})
	w.open = len(w.events) - 1
}

func (w *SaveWatcher) end(at, after, by time.Time, ok bool) {
	if w.open < 0 {
		w.events = append(w.events, SaveEvent{Ended: at, EndedAfter: after, EndedBy: by, OK: ok})
		return
	}
	e := &w.events[w.open]
	e.Ended, e.EndedAfter, e.EndedBy, e.OK = at, after, by, ok
	w.open = -1
}

// notify wakes WaitEnd callers after every successful poll. Called with mu held.
func (w *SaveWatcher) notify() {
	w.lastErr = nil
	close(w.changed)
	w.changed = make(chan struct{})
}

func (w *SaveWatcher) setErr(err error) {
	w.mu.Lock()
	w.lastErr = err
	w.mu.Unlock()
}

// Events returns a copy of the saves seen so far, in the order they started.
func (w *SaveWatcher) Events() []SaveEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]SaveEvent(nil), w.events...)
}

// WaitEnd blocks until a save that started after `after` has ended and
// returns it (OK false for a failed save). It fails when ctx ends or the
// watcher stops first.
func (w *SaveWatcher) WaitEnd(ctx context.Context, after time.Time) (SaveEvent, error) {
	for {
		w.mu.Lock()
		for _, ev := range w.events {
			if ev.Started.After(after) && !ev.Ended.IsZero() {
				w.mu.Unlock()
				return ev, nil
			}
		}
		changed, lastErr := w.changed, w.lastErr
		w.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			if lastErr != nil {
				return SaveEvent{}, fmt.Errorf("wait for a save started after %s (watcher: %v): %w", after.Format(time.StampMilli), lastErr, ctx.Err())
			}
			return SaveEvent{}, fmt.Errorf("wait for a save started after %s: %w", after.Format(time.StampMilli), ctx.Err())
		case <-w.done:
			return SaveEvent{}, errors.New("save watcher stopped")
		}
	}
}

// Stop ends the polling and waits for it to finish. Events stay readable.
func (w *SaveWatcher) Stop() {
	w.cancel()
	<-w.done
}

package probe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// Readiness is what WaitReady saw while a server came up. Times are taken
// the moment the event was observed by the poll that observed it first.
type Readiness struct {
	Began      time.Time // WaitReady was called
	Accepted   time.Time // first TCP connect that succeeded
	FirstReply time.Time // first RESP reply of any kind, -LOADING included
	Ready      time.Time // first reply that is not -LOADING
	// ReadyReply is the reply that made the server ready: normally "PONG",
	// but "-MISCONF ..." also means the dataset is loaded.
	ReadyReply     string
	Polls          int // polls completed
	Refused        int // connects refused (nothing listening yet)
	LoadingReplies int
	Errors         int // other failed polls: timeouts, resets, unreachable hosts
}

// pollTimeout bounds one poll. A loading server answers only at its load
// checkpoints, so a poll may wait tens of milliseconds; while it waits the
// next polls are already under way.
const pollTimeout = 3 * time.Second

// maxInFlight bounds concurrent polls: enough that one is always waiting at a
// load checkpoint (and is answered the instant loading ends), few enough to
// be negligible load.
const maxInFlight = 8

// pollResult is one poll on a fresh connection.
type pollResult struct {
	accepted time.Time // zero when the dial failed
	replied  time.Time // zero when no reply came
	reply    Reply
	refused  bool
	err      error
}

// pollOnce dials addr, sends args and reads one reply, timestamping each step.
// With kept non-nil (see Client) it first takes a connection to addr that
// answered before, and gives the connection back after a reply.
func (cl Client) pollOnce(ctx context.Context, addr string, args []string, kept chan keptConn) pollResult {
	var res pollResult
	c := takeKept(kept, addr)
	if c == nil {
		var err error
		if c, err = cl.dial(ctx, addr, pollTimeout); err != nil {
			res.err = err
			res.refused = errors.Is(err, syscall.ECONNREFUSED)
			return res
		}
		res.accepted = time.Now()
	}
	rep, err := c.do(ctx, pollTimeout, args...)
	if err != nil {
		c.close()
		res.err = err
		return res
	}
	res.replied = time.Now()
	res.reply = rep
	if kept == nil {
		c.close()
		return res
	}
	select {
	case kept <- keptConn{c: c, addr: addr}:
	default:
		c.close()
	}
	return res
}

// keptConn is a poll connection that answered, with the address it was
// dialed for (the address may change: an ECS replacement task).
type keptConn struct {
	c    *conn
	addr string
}

// takeKept returns a kept connection to addr, closing kept ones to other
// addresses, or nil.
func takeKept(kept chan keptConn, addr string) *conn {
	for kept != nil {
		select {
		case k := <-kept:
			if k.addr == addr {
				return k.c
			}
			k.c.close()
		default:
			return nil
		}
	}
	return nil
}

// closeKept closes every kept connection.
func closeKept(kept chan keptConn) {
	for kept != nil {
		select {
		case k := <-kept:
			k.c.close()
		default:
			return
		}
	}
}

// pollLoop starts a poll of args every `every` on an absolute schedule (a
// late tick is skipped, never bunched), each on a new (or, with TLS or
// AUTH, a kept: see Client) connection to the
// address addr returns at that moment ("" skips the tick: address not known
// yet). handle sees each result on the calling goroutine and returns true to
// stop. pollLoop returns ctx's error if ctx ends first; no poll goroutine
// outlives it.
func (cl Client) pollLoop(ctx context.Context, addr func() string, every time.Duration, args []string, handle func(pollResult) bool) error {
	if every <= 0 {
		every = 5 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var kept chan keptConn
	if cl.keepsConnections() {
		kept = make(chan keptConn, maxInFlight)
	}
	defer func() {
		cancel()
		wg.Wait()
		closeKept(kept) // no poll is using one now
	}()
	results := make(chan pollResult, maxInFlight)
	inFlight := 0
	start := time.Now()
	tick := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case res := <-results:
			inFlight--
			if handle(res) {
				return nil
			}
		case <-timer.C:
			if a := addr(); a != "" && inFlight < maxInFlight {
				inFlight++
				wg.Add(1)
				go func() {
					defer wg.Done()
					results <- cl.pollOnce(ctx, a, args, kept) // buffered: never blocks
				}()
			}
			tick++
			if late := int(time.Since(start) / every); late >= tick {
				tick = late + 1
			}
			timer.Reset(time.Until(start.Add(time.Duration(tick) * every)))
		}
	}
}

// WaitReady polls PING every `every` (1-10 ms gives that resolution) on a new
// connection per poll, re-reading addr each time, until a reply that is not
// -LOADING arrives. It records when the port first accepted and when the
// first reply of any kind came. On ctx's end it returns what it saw so far
// and the context's error.
func (cl Client) WaitReady(ctx context.Context, addr func() string, every time.Duration) (Readiness, error) {
	rd := Readiness{Began: time.Now()}
	var lastErr error
	err := cl.pollLoop(ctx, addr, every, []string{"PING"}, func(res pollResult) bool {
		rd.Polls++
		if !res.accepted.IsZero() && (rd.Accepted.IsZero() || res.accepted.Before(rd.Accepted)) {
			rd.Accepted = res.accepted
		}
		if res.err != nil {
			lastErr = res.err
			if res.refused {
				rd.Refused++
			} else {
				rd.Errors++
			}
			return false
		}
		if rd.FirstReply.IsZero() || res.replied.Before(rd.FirstReply) {
			rd.FirstReply = res.replied
		}
		if res.reply.IsLoading() {
			rd.LoadingReplies++
			return false
		}
		rd.Ready, rd.ReadyReply = res.replied, res.reply.String()
		return true
	})
	if err != nil {
		if lastErr != nil {
			return rd, fmt.Errorf("server not ready after %d polls (last: %v): %w", rd.Polls, lastErr, err)
		}
		return rd, fmt.Errorf("server not ready after %d polls: %w", rd.Polls, err)
	}
	return rd, nil
}

// WaitServing polls GET key like WaitReady polls PING and returns the instant
// of the first reply carrying a value: the first successful read of a key
// that survived ("serving"). Nil, LOADING and errors keep it polling; when ctx
// ends it returns the last reply and an error saying why.
func (cl Client) WaitServing(ctx context.Context, addr func() string, key string, every time.Duration) (time.Time, Reply, error) {
	var last Reply
	var lastErr error
	var at time.Time
	err := cl.pollLoop(ctx, addr, every, []string{"GET", key}, func(res pollResult) bool {
		if res.err != nil {
			lastErr = res.err
			return false
		}
		last = res.reply
		if res.reply.Kind == '$' && !res.reply.Nil {
			at = res.replied
			return true
		}
		return false
	})
	if err != nil {
		switch {
		case last.Kind != 0:
			return time.Time{}, last, fmt.Errorf("GET %s never returned a value (last reply %s): %w", key, last, err)
		case lastErr != nil:
			return time.Time{}, last, fmt.Errorf("GET %s never answered (last: %v): %w", key, lastErr, err)
		}
		return time.Time{}, last, fmt.Errorf("GET %s: %w", key, err)
	}
	return at, last, nil
}

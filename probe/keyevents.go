package probe

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Keyevent channels of database 0 for the two ways a key leaves without a
// DEL: eviction under maxmemory and expiry of a TTL. NotifyFlags enables
// exactly these: E keyevent channels, e evicted, x expired ("Ee" alone
// publishes no expiry).
const (
	EvictedChannel = "__keyevent@0__:evicted"
	ExpiredChannel = "__keyevent@0__:expired"
	NotifyFlags    = "Exe"
)

// KeyEvents is what a KeyEventRecorder saw, key by key.
type KeyEvents struct {
	// Evicted and Expired hold the keys under the prefix, each once.
	Evicted, Expired map[string]bool
	// EvictedEvents and ExpiredEvents count every notification under the
	// prefix, including repeats of a key (written, evicted, written again).
	EvictedEvents, ExpiredEvents int64
	// Other counts notifications of keys outside the prefix (ignored).
	Other int64
	// Gaps are the intervals the recorder was not subscribed (server down,
	// connection lost): pub/sub keeps nothing for an absent subscriber, so a
	// key that left then is not in the sets.
	Gaps []Gap
}

// Gap is an interval without a subscription; To is zero while it lasts.
type Gap struct{ From, To time.Time }

// KeyEventRecorder enables keyspace notifications for evicted and expired
// keys (CONFIG SET notify-keyspace-events Exe, again after every reconnect:
// a replacement server starts without it) and records the keys under a
// prefix, so a read-back can tell an evicted or expired key from a lost one.
// Keep it running through the read-back: the server still evicts while it
// is over maxmemory, whatever the command.
type KeyEventRecorder struct {
	cl     Client
	prefix string
	cancel context.CancelFunc
	done   chan struct{}

	mu sync.Mutex
	ev KeyEvents
}

// RecordKeyEvents subscribes to addr (re-read at every reconnect) and returns
// once the first subscription is confirmed, or with the error that kept it
// from being made. It records until Stop or ctx's end.
func (cl Client) RecordKeyEvents(ctx context.Context, addr func() string, prefix string) (*KeyEventRecorder, error) {
	ctx, cancel := context.WithCancel(ctx)
	r := &KeyEventRecorder{cl: cl, prefix: prefix, cancel: cancel, done: make(chan struct{}),
		ev: KeyEvents{Evicted: map[string]bool{}, Expired: map[string]bool{}}}
	c, err := cl.subscribe(ctx, addr())
	if err != nil {
		cancel()
		return nil, err
	}
	go r.run(ctx, c, addr)
	return r, nil
}

// subscribe enables the notifications and subscribes on a new connection.
func (cl Client) subscribe(ctx context.Context, addr string) (*conn, error) {
	c, err := cl.dial(ctx, addr, time.Second)
	if err != nil {
		return nil, fmt.Errorf("subscribe to key events on %s: %w", addr, err)
	}
	rep, err := c.do(ctx, infoTimeout, "CONFIG", "SET", "notify-keyspace-events", NotifyFlags)
	if err == nil && rep.IsError() && strings.HasPrefix(rep.Str, "NOPERM") {
		// A limited ACL user (the module's harness user) may not CONFIG
		// SET: ACL cannot allow one parameter only. The module starts the
		// server with the flags instead; check they are on.
		err = c.notifyFlagsPreset(ctx)
	} else if err == nil && rep.IsError() {
		err = fmt.Errorf("%s", rep)
	}
	if err == nil {
		// One command: the server writes both confirmations before any
		// message, so the second reply cannot be a message.
		rep, err = c.do(ctx, infoTimeout, "SUBSCRIBE", EvictedChannel, ExpiredChannel)
		if err == nil && !isSubscribed(rep) {
			err = fmt.Errorf("SUBSCRIBE replied %s", rep)
		}
		if err == nil {
			if rep, err = readReply(c.r); err == nil && !isSubscribed(rep) {
				err = fmt.Errorf("SUBSCRIBE replied %s", rep)
			}
		}
	}
	if err != nil {
		c.close()
		return nil, fmt.Errorf("enable key events on %s: %w", addr, err)
	}
	_ = c.nc.SetDeadline(time.Time{}) // messages come whenever keys leave
	return c, nil
}

func (r *KeyEventRecorder) run(ctx context.Context, c *conn, addr func() string) {
	defer close(r.done)
	for {
		stop := context.AfterFunc(ctx, func() { c.close() })
		r.read(c)
		stop()
		c.close()
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		r.ev.Gaps = append(r.ev.Gaps, Gap{From: time.Now()})
		r.mu.Unlock()
		for c = nil; c == nil; {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
			c, _ = r.cl.subscribe(ctx, addr())
		}
		r.mu.Lock()
		r.ev.Gaps[len(r.ev.Gaps)-1].To = time.Now()
		r.mu.Unlock()
	}
}

func isSubscribed(rep Reply) bool {
	return rep.Kind == '*' && len(rep.Array) == 3 && rep.Array[0].Str == "subscribe"
}

// read records messages until the connection fails.
func (r *KeyEventRecorder) read(c *conn) error {
	for {
		rep, err := readReply(c.r)
		if err != nil {
			return err
		}
		if rep.Kind != '*' || len(rep.Array) != 3 || rep.Array[0].Str != "message" {
			continue
		}
		r.record(rep.Array[1].Str, rep.Array[2].Str)
	}
}

func (r *KeyEventRecorder) record(channel, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !strings.HasPrefix(key, r.prefix) {
		r.ev.Other++
		return
	}
	switch channel {
	case EvictedChannel:
		r.ev.Evicted[key] = true
		r.ev.EvictedEvents++
	case ExpiredChannel:
		r.ev.Expired[key] = true
		r.ev.ExpiredEvents++
	}
}

// Stop ends the subscription and returns what was recorded.
func (r *KeyEventRecorder) Stop() KeyEvents {
	r.cancel()
	<-r.done
	return r.Events()
}

// Events is a copy of what was recorded so far.
func (r *KeyEventRecorder) Events() KeyEvents {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.ev
	ev.Evicted, ev.Expired = copySet(r.ev.Evicted), copySet(r.ev.Expired)
	ev.Gaps = append([]Gap(nil), r.ev.Gaps...)
	return ev
}

func copySet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// notifyFlagsPreset checks that the server already publishes the evicted
// and expired keyevents (CONFIG GET notify-keyspace-events).
func (c *conn) notifyFlagsPreset(ctx context.Context) error {
	rep, err := c.do(ctx, infoTimeout, "CONFIG", "GET", "notify-keyspace-events")
	if err != nil {
		return err
	}
	if rep.IsError() || len(rep.Array) != 2 {
		return fmt.Errorf("CONFIG SET notify-keyspace-events is denied to this user and CONFIG GET replied %s", rep)
	}
	if flags := rep.Array[1].Str; !HasNotifyFlags(flags) {
		return fmt.Errorf("the server's notify-keyspace-events is %q and this user may not CONFIG SET it: start the server with --notify-keyspace-events %s (terraform/modules/valkey does when the harness user is enabled)", flags, NotifyFlags)
	}
	return nil
}

// HasNotifyFlags reports whether notify-keyspace-events flags (as CONFIG
// GET shows them) publish evicted and expired keyevents: E, and e and x
// or A (every class but n, m and new).
func HasNotifyFlags(flags string) bool {
	all := strings.Contains(flags, "A")
	return strings.Contains(flags, "E") && (all || strings.Contains(flags, "e") && strings.Contains(flags, "x"))
}

package loadgen

import (
	"context"
	"encoding"
	"strings"

	"github.com/redis/go-redis/v9"
)

// reusableArg is a command argument whose bytes are rewritten in place for
// each op. go-redis writes an encoding.BinaryMarshaler argument straight
// into its buffer, so a pointer to one costs no allocation per command.
type reusableArg struct{ b []byte }

func (a *reusableArg) MarshalBinary() ([]byte, error) { return a.b, nil }

var _ encoding.BinaryMarshaler = (*reusableArg)(nil)

// preparedSet is one SET built once and refilled for every op it carries:
// no per-op command, argument slice or boxing allocations (issue 16).
type preparedSet struct {
	key, value reusableArg
	cmd        *redis.StatusCmd
}

func newPreparedSet(valueSize int) *preparedSet {
	p := &preparedSet{value: reusableArg{b: make([]byte, 0, max(valueSize, MinValueSize))}}
	p.cmd = redis.NewStatusCmd(context.Background(), "set", &p.key, &p.value)
	return p
}

// fill makes the SET write op seq with its value, and clears the previous
// reply.
func (p *preparedSet) fill(prefix string, s slot, w *Writer) {
	seq := w.cfg.StartSeq + s.n
	p.key.b = AppendKey(p.key.b[:0], prefix, seq)
	p.value.b = AppendValue(p.value.b[:0], seq, w.startOff+s.due, w.cfg.ValueSize)
	p.cmd.SetErr(nil)
	p.cmd.SetVal("")
}

// send writes the batch on this connection, connecting first if needed, and
// records every op. connected is false when the connect failed (the caller
// pauses before the next attempt, so a dead server is not hammered).
func (c *writerConn) send(batch []slot) (connected bool) {
	w := c.w
	if c.raw != nil && w.offset()-c.lastDone > idleCheck && !alive(c.raw) {
		c.reset()
	}
	if c.raw == nil && !c.connect(batch) {
		return false
	}
	if c.resp != nil {
		c.sendRESP(batch)
	} else {
		c.sendGoRedis(batch)
	}
	return true
}

// connect opens (and authenticates) the connection for the configured
// client. A failed connect fails the batch: nothing was sent.
func (c *writerConn) connect(batch []slot) bool {
	w := c.w
	attempt := w.offset()
	nc, err := dial(w.cfg.Conn, w.cfg.Addr(), w.cfg.DialTimeout)
	if err != nil {
		outcome, kind := Classify(err, false)
		for _, s := range batch {
			c.record(s, attempt, attempt, outcome, kind)
		}
		return false
	}
	c.raw = nc
	if w.cfg.Client == WriterClientRESP {
		c.resp = newRespConn(nc, w.cfg.OpTimeout)
	} else {
		c.client = newClient(w.cfg.Conn, nc, w.cfg.OpTimeout)
		c.pipe = c.client.Pipeline()
	}
	return true
}

// sendGoRedis sends the batch through go-redis: one SET alone, or a
// pipeline.
func (c *writerConn) sendGoRedis(batch []slot) {
	w := c.w
	for len(c.sets) < len(batch) {
		p := newPreparedSet(w.cfg.ValueSize)
		c.sets = append(c.sets, p)
		c.cmders = append(c.cmders, p.cmd)
	}
	for i, s := range batch {
		c.sets[i].fill(w.cfg.Prefix, s, w)
	}
	ctx := context.Background() // in-flight ops finish (bounded by OpTimeout) even after Stop
	sent := w.offset()
	var batchErr error
	if len(batch) == 1 {
		batchErr = c.client.Process(ctx, c.sets[0].cmd)
	} else {
		_ = c.pipe.BatchProcess(ctx, c.cmders[:len(batch)]...) // only queues
		_, batchErr = c.pipe.Exec(ctx)                         // errors are per command, but see below
	}
	done := w.offset()
	// go-redis leaves a pipeline's commands untouched when the connection's
	// HELLO or AUTH fails with an error reply (WRONGPASS): none was sent,
	// and without the batch's error they would read as acknowledged. Only
	// a batch with no reply and no error at all is that case: an empty
	// reply beside another command's error reply is still a reply.
	untouched := batchErr != nil
	for i := range batch {
		if cmd := c.sets[i].cmd; cmd.Err() != nil || cmd.Val() != "" {
			untouched = false
		}
	}
	broken := false
	for i, s := range batch {
		cmd := c.sets[i].cmd
		err := cmd.Err()
		if untouched {
			err = batchErr
		}
		outcome, kind := ClassifyStatus(cmd.Val(), err, true)
		c.record(s, sent, done, outcome, kind)
		broken = broken || lostConn(c.client, err)
	}
	c.lastDone = done
	if broken {
		c.reset()
	}
}

// sendRESP sends the batch as raw RESP (WriterClientRESP) and classifies
// each reply as sendGoRedis does: a reply that is no error is OK, an error
// reply Fail with its kind, and every op whose reply was not read when the
// connection failed Unknown (a reply read before the failure still counts,
// as ClassifyStatus counts go-redis's). On a new connection the batch waits,
// as go-redis's first command does, for the hello (HELLO, AUTH) first.
func (c *writerConn) sendRESP(batch []slot) {
	w := c.w
	sent := w.offset()
	var err error
	if c.resp.fresh {
		c.resp.fresh = false
		var refused error
		if refused, err = c.resp.hello(w.cfg.Conn.Auth); refused != nil {
			err = refused
		}
	}
	if err == nil {
		for _, s := range batch {
			c.resp.appendSet(w.cfg.Prefix, w.cfg.StartSeq+s.n, w.startOff+s.due, w.cfg.ValueSize)
		}
		c.replies, err = c.resp.exchange(len(batch), c.replies[:0])
	} else {
		c.replies = c.replies[:0]
	}
	done := w.offset()
	for i, s := range batch {
		outcome, kind := Classify(err, true)
		if i < len(c.replies) {
			outcome, kind = Classify(c.replies[i], true)
		}
		c.record(s, sent, done, outcome, kind)
	}
	c.lastDone = done
	if err != nil || readOnly(c.replies) {
		c.reset()
	}
}

// readOnly reports whether a batch's first error reply is READONLY, after
// which go-redis drops its connection (so that a failover's new primary is
// dialled: go-redis #790); the resp client does the same.
func readOnly(replies []error) bool {
	for _, r := range replies {
		if r != nil {
			return strings.HasPrefix(r.Error(), "READONLY")
		}
	}
	return false
}

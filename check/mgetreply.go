package check

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/trigpointing/valkey-chaos/loadgen"
)

// mgetReply checks one MGET reply as go-redis streams it to a
// redis.RawWriteToCmd: each value is parsed where it lies in a reusable
// buffer and only its verdict is kept, in found. go-redis's own MGET reply
// (a []interface{} of strings) costs two allocations and a copy per key,
// which was most of the read-back's client CPU. The parser accepts the
// bytes in any chunking.
type mgetReply struct {
	seqs  []loadgen.Op // the ops whose keys the MGET names, in order
	found []Found      // parallel to seqs

	state replyState
	line  []byte // a header line being assembled, without its CRLF
	value []byte // a bulk value being assembled, with its CRLF
	want  int    // bulk bytes expected including the CRLF
	count int    // elements in the reply
	next  int    // index of the next element
	err   error  // the first problem: an error reply or a malformed reply
	buf   []byte // ReadFrom's scratch
}

type replyState uint8

const (
	replyHeader  replyState = iota // want the array header
	replyElement                   // want an element's header
	replyBulk                      // inside an element's bytes
	replyDone                      // every element read
)

var (
	_ io.Writer     = (*mgetReply)(nil)
	_ io.ReaderFrom = (*mgetReply)(nil)
)

// reset points the parser at the next MGET's ops and results.
func (r *mgetReply) reset(ops []loadgen.Op, found []Found) {
	r.seqs, r.found = ops, found
	r.state, r.line, r.value, r.want, r.count, r.next, r.err = replyHeader, r.line[:0], r.value[:0], 0, 0, 0, nil
}

// result is the first problem with the reply, or nil once every element
// has been checked.
func (r *mgetReply) result() error {
	if r.err != nil {
		return r.err
	}
	if r.state != replyDone {
		return fmt.Errorf("mget reply ended after %d of %d values", r.next, len(r.seqs))
	}
	return nil
}

// ReadFrom takes one bulk value from go-redis's io.CopyN through a reusable
// buffer (without it io.Copy would allocate a buffer per value).
func (r *mgetReply) ReadFrom(src io.Reader) (int64, error) {
	if r.buf == nil {
		r.buf = make([]byte, 32<<10)
	}
	var total int64
	for {
		n, err := src.Read(r.buf)
		if n > 0 {
			total += int64(n)
			_, _ = r.Write(r.buf[:n]) // never fails: problems are kept in r.err
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Write consumes reply bytes. It never fails (go-redis would then abandon
// the connection mid-reply): a problem is kept for result and the rest of
// the reply is skipped.
func (r *mgetReply) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if r.state == replyBulk {
			p = r.bulk(p)
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.line = append(r.line, p...)
			break
		}
		r.line = append(r.line, p[:i]...)
		p = p[i+1:]
		line := bytes.TrimSuffix(r.line, []byte{'\r'})
		r.header(line)
		r.line = r.line[:0]
	}
	return n, nil
}

// header handles one complete header line. After a problem the reply's
// structure is still followed, so the stream stays aligned.
func (r *mgetReply) header(line []byte) {
	if len(line) == 0 {
		r.fail(errors.New("mget reply: an empty line"))
		return
	}
	n, numOK := parseLen(line[1:])
	switch {
	case line[0] == '-':
		r.fail(fmt.Errorf("mget: %s", line[1:]))
		r.state = replyDone
	case r.state == replyHeader && line[0] == '*' && numOK:
		if n != len(r.seqs) {
			r.fail(fmt.Errorf("mget of %d keys answered %d values", len(r.seqs), n))
		}
		r.count, r.state = n, replyElement
		r.finishIfComplete()
	case r.state == replyElement && (line[0] == '$' && numOK && n == -1 || line[0] == '_'):
		r.record(Found{}) // absent (RESP2 nil bulk, RESP3 null)
	case r.state == replyElement && line[0] == '$' && numOK && n >= 0:
		r.state, r.want, r.value = replyBulk, n+2, r.value[:0]
	default:
		r.fail(fmt.Errorf("mget reply: unexpected %.40q", line))
	}
}

// parseLen reads a RESP length (digits, or -1).
func parseLen(b []byte) (int, bool) {
	if len(b) == 2 && b[0] == '-' && b[1] == '1' {
		return -1, true
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// bulk takes the current value's bytes from p and returns the rest.
func (r *mgetReply) bulk(p []byte) []byte {
	if len(r.value) == 0 && len(p) >= r.want { // the whole value in p: no copy
		r.check(p[:r.want])
		return p[r.want:]
	}
	take := min(r.want-len(r.value), len(p))
	r.value = append(r.value, p[:take]...)
	if len(r.value) == r.want {
		r.check(r.value)
	}
	return p[take:]
}

// check records the verdict on one complete value (with its CRLF).
func (r *mgetReply) check(v []byte) {
	r.state = replyElement
	if !bytes.HasSuffix(v, []byte("\r\n")) {
		r.fail(errors.New("mget reply: a value without its CRLF"))
	}
	found := Found{Present: true}
	if r.next < len(r.seqs) {
		seq, _, ok := loadgen.ParseValue(v[:len(v)-2])
		found.Match = ok && seq == r.seqs[r.next].Seq
	}
	r.record(found)
}

// record stores the next element's verdict.
func (r *mgetReply) record(f Found) {
	if r.err == nil && r.next < len(r.found) {
		r.found[r.next] = f
	}
	r.next++
	r.finishIfComplete()
}

func (r *mgetReply) finishIfComplete() {
	if r.state == replyElement && r.next == r.count {
		r.state = replyDone
	}
}

// fail keeps the first problem and stops interpreting the reply.
func (r *mgetReply) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

package loadgen

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// WriterClient names the client the writer's SETs go through.
type WriterClient string

const (
	// WriterClientGoRedis sends every SET through go-redis, the client the
	// project's users run: the default.
	WriterClientGoRedis WriterClient = "go-redis"
	// WriterClientRESP writes the SETs' RESP itself and reads the replies
	// straight from the socket: the explicit fast path issue 16 allows for
	// capacity runs that must out-write valkey-benchmark. The ops, their
	// outcomes and their timings are recorded exactly as through go-redis
	// (the writer tests run both); what it leaves out is go-redis's encoder,
	// reply parser and connection pool, about a fifth of the writer's CPU
	// per SET at pipeline 16.
	WriterClientRESP WriterClient = "resp"
)

// ParseWriterClient accepts go-redis or resp; empty is go-redis.
func ParseWriterClient(s string) (WriterClient, error) {
	switch c := WriterClient(s); c {
	case WriterClientGoRedis, WriterClientRESP:
		return c, nil
	case "":
		return WriterClientGoRedis, nil
	}
	return "", fmt.Errorf("writer client %q: want %s or %s", s, WriterClientGoRedis, WriterClientRESP)
}

// replyError is an error reply read by respConn. It is a redis.Error, so
// Classify files it (LOADING, MISCONF, ...) as it files go-redis's own.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

var _ redis.Error = replyError("")

// errProtocol is a reply the command cannot have: the stream is out of
// step, so the connection is dropped as if it had broken.
var errProtocol = errors.New("resp: unexpected reply")

// respConn is one connection of a resp client (the writer's, the
// reader's): a request buffer rebuilt per round trip and a buffered reader
// of replies.
type respConn struct {
	nc      net.Conn
	in      *bufio.Reader
	out     []byte
	timeout time.Duration
	used    time.Time // the last round trip ended (the reader's idle check)
	fresh   bool      // not yet greeted (the writer's hello)
}

func newRespConn(nc net.Conn, timeout time.Duration) *respConn {
	return &respConn{nc: nc, in: bufio.NewReaderSize(nc, 32<<10), out: make([]byte, 0, 4<<10), timeout: timeout, fresh: true}
}

// appendSet appends SET Key(prefix, seq) Value(seq, intended, size) in
// RESP to the request, encoding key and value in place.
func (r *respConn) appendSet(prefix string, seq uint64, intended time.Duration, size int) {
	size = max(size, MinValueSize)
	b := append(r.out, "*3\r\n$3\r\nSET\r\n$"...)
	b = strconv.AppendInt(b, int64(len(prefix)+len("w:")+decimalDigits(seq)), 10)
	b = append(b, "\r\n"...)
	b = AppendKey(b, prefix, seq)
	b = append(b, "\r\n$"...)
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, "\r\n"...)
	b = AppendValue(b, seq, intended, size)
	r.out = append(b, "\r\n"...)
}

// appendCommand appends a command of bulk-string arguments to the request.
func (r *respConn) appendCommand(args ...[]byte) { r.out = appendCommand(r.out, args...) }

// appendCommand appends a RESP command of bulk-string arguments to b.
func appendCommand(b []byte, args ...[]byte) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// decimalDigits is the length of seq in decimal.
func decimalDigits(seq uint64) int {
	n := 1
	for seq >= 10 {
		seq /= 10
		n++
	}
	return n
}

// send writes the request under the write timeout, empties it, and sets
// the read timeout for the replies, as go-redis does per command.
func (r *respConn) send() error {
	defer func() { r.out = r.out[:0] }()
	return r.sendBytes(r.out)
}

func (r *respConn) sendBytes(req []byte) error {
	if err := r.nc.SetWriteDeadline(time.Now().Add(r.timeout)); err != nil {
		return err
	}
	if _, err := r.nc.Write(req); err != nil {
		return err
	}
	return r.nc.SetReadDeadline(time.Now().Add(r.timeout))
}

// line reads one reply line, without its CRLF; a line without the CR is
// out of step, as go-redis's reader holds it.
func (r *respConn) line() ([]byte, error) {
	line, err := r.in.ReadSlice('\n')
	switch {
	case err != nil:
		return nil, err
	case len(line) < 2 || line[len(line)-2] != '\r':
		return nil, fmt.Errorf("%w: %q", errProtocol, line)
	}
	return line[:len(line)-2], nil
}

// errNil is a nil reply to a command that should have answered: a
// redis.Error, as go-redis's redis.Nil is.
const errNil = replyError("redis: nil")

// readStatus reads the reply to a SET as go-redis's StatusCmd takes it:
// nil for any status, bulk string or integer (+OK is the one Valkey
// sends), a replyError for an error reply or the nil reply; any other
// error (an array, a broken connection) is the connection's.
func (r *respConn) readStatus() (reply error, err error) { return r.readReply(false) }

// skipReply reads one whole reply of any type (arrays to any depth) and
// returns it only if it is an error reply.
func (r *respConn) skipReply() (reply error, err error) { return r.readReply(true) }

// readReply reads one reply: any type (arrays to any depth, the nil reply
// no error), or, for a SET's, the types readStatus takes.
func (r *respConn) readReply(anyType bool) (reply error, err error) {
	line, err := r.line()
	if err != nil {
		return nil, err
	}
	if len(line) == 0 {
		return nil, fmt.Errorf("%w: empty line", errProtocol)
	}
	switch line[0] {
	case '+', ':':
		return nil, nil
	case '-':
		return replyError(line[1:]), nil
	case '$':
		found, err := r.bulkBody(line)
		if err == nil && !found && !anyType {
			return errNil, nil
		}
		return nil, err
	case '*':
		n, perr := strconv.Atoi(string(line[1:]))
		if perr != nil || !anyType {
			break
		}
		for range max(n, 0) {
			if _, err := r.readReply(true); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	return nil, fmt.Errorf("%w: %q", errProtocol, line)
}

// readBulk reads a bulk-string reply and discards its bytes: found is false
// for the nil reply; reply is a replyError for an error reply; any other
// error is the connection's.
func (r *respConn) readBulk() (found bool, reply error, err error) {
	line, err := r.line()
	switch {
	case err != nil:
		return false, nil, err
	case len(line) > 0 && line[0] == '-':
		return false, replyError(line[1:]), nil
	case len(line) > 0 && line[0] == '$':
		found, err := r.bulkBody(line)
		return found, nil, err
	}
	return false, nil, fmt.Errorf("%w: %q", errProtocol, line)
}

// bulkBody reads past the bytes a bulk-string header line announces.
// found is false for the nil reply.
func (r *respConn) bulkBody(header []byte) (found bool, err error) {
	n, perr := strconv.Atoi(string(header[1:]))
	switch {
	case perr == nil && n == -1:
		return false, nil
	case perr != nil || n < 0:
		return false, fmt.Errorf("%w: %q", errProtocol, header)
	}
	if _, err := r.in.Discard(n + 2); err != nil {
		return false, err
	}
	return true, nil
}

// readHello reads HELLO's reply: a map (an array in RESP2) or an error
// reply. Anything else is out of step, as go-redis cannot read it either.
func (r *respConn) readHello() (reply error, err error) {
	if b, err := r.in.Peek(1); err != nil {
		return nil, err
	} else if b[0] != '*' && b[0] != '-' {
		line, _ := r.line()
		return nil, fmt.Errorf("%w: HELLO answered %q", errProtocol, line)
	}
	return r.readReply(true)
}

// hello is what go-redis sends on a new connection before its first
// command, round trip for round trip: HELLO 2, with AUTH when there is a
// password; if the server refuses HELLO and there is a password, AUTH on its
// own. A refused HELLO without a password is ignored, as go-redis ignores it
// (an old server, or one that refuses clients: the command after it then
// meets what the server does). reply is a refused AUTH.
func (r *respConn) hello(auth valkeyconn.Auth) (reply error, err error) {
	args := [][]byte{[]byte("HELLO"), []byte("2")}
	if auth.Password != "" {
		args = append(args, []byte("AUTH"), []byte(cmp.Or(auth.User, "default")), []byte(auth.Password))
	}
	if err := r.sendBytes(appendCommand(nil, args...)); err != nil {
		return nil, err
	}
	if reply, err = r.readHello(); err != nil || reply == nil || auth.Password == "" {
		return nil, err
	}
	args = [][]byte{[]byte("AUTH"), []byte(auth.Password)}
	if auth.User != "" {
		args = [][]byte{[]byte("AUTH"), []byte(auth.User), []byte(auth.Password)}
	}
	if err := r.sendBytes(appendCommand(nil, args...)); err != nil {
		return nil, err
	}
	return r.readStatus()
}

// exchange sends the request of n SETs and reads their replies into
// replies: nil for +OK, a replyError for an error reply. It returns the
// transport error that ended it early, if any (the ops from the first reply
// not read on are unknown).
func (r *respConn) exchange(n int, replies []error) ([]error, error) {
	if err := r.send(); err != nil {
		return replies, err
	}
	for range n {
		reply, err := r.readStatus()
		if err != nil {
			return replies, err
		}
		replies = append(replies, reply)
	}
	return replies, nil
}

// Package probe watches a Valkey server from outside with precise
// timestamps: a raw RESP client (no connection pool, no retries, no backoff)
// for readiness and INFO polling, and a parser and follower of the server's
// own log. It never uses go-redis: its pool backs off for up to a second after
// failed dials and retries LOADING, which hides exactly the instants a
// recovery measurement needs (FACTS.md Part 2 §3).
package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Reply is one RESP2 reply.
type Reply struct {
	Kind  byte // '+' simple string, '-' error, ':' integer, '$' bulk string, '*' array
	Str   string
	Int   int64
	Array []Reply
	Nil   bool // "$-1" or "*-1"
}

// IsLoading reports a "-LOADING ..." error: the server accepts connections
// but is still reading its RDB file.
func (r Reply) IsLoading() bool {
	return r.Kind == '-' && strings.HasPrefix(r.Str, "LOADING")
}

// IsError reports an error reply ("-ERR ...", "-MISCONF ...", "-LOADING ...").
func (r Reply) IsError() bool { return r.Kind == '-' }

// String renders the reply for messages and reports.
func (r Reply) String() string {
	switch r.Kind {
	case '+':
		return r.Str
	case '-':
		return "-" + r.Str
	case ':':
		return strconv.FormatInt(r.Int, 10)
	case '$':
		if r.Nil {
			return "(nil)"
		}
		return strconv.Quote(r.Str)
	case '*':
		if r.Nil {
			return "(nil array)"
		}
		parts := make([]string, len(r.Array))
		for i, e := range r.Array {
			parts[i] = e.String()
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return "(no reply)"
}

// maxBulk bounds a bulk reply so a garbled length cannot allocate gigabytes.
const maxBulk = 512 << 20

// conn is one raw RESP connection. It is not safe for concurrent use.
type conn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

// dial connects with a timeout that also respects ctx.
func (cl Client) dial(ctx context.Context, addr string, timeout time.Duration) (*conn, error) {
	nc, err := cl.Conn.DialAuth(ctx, addr, timeout)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, r: bufio.NewReaderSize(nc, 16<<10), w: bufio.NewWriterSize(nc, 4<<10)}, nil
}

func (c *conn) close() error { return c.nc.Close() }

// do sends one command as a RESP2 array and reads one reply. The deadline is
// now+timeout or ctx's deadline, whichever is first; cancelling ctx aborts
// the round trip. An error reply is a Reply, not an error.
func (c *conn) do(ctx context.Context, timeout time.Duration, args ...string) (Reply, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		return Reply{}, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.send(args); err != nil {
		return Reply{}, ctxErr(ctx, err)
	}
	rep, err := readReply(c.r)
	if err != nil {
		return Reply{}, ctxErr(ctx, err)
	}
	return rep, nil
}

// ctxErr prefers the context's error when the context caused the failure.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

func (c *conn) send(args []string) error {
	c.w.WriteByte('*')
	c.w.WriteString(strconv.Itoa(len(args)))
	c.w.WriteString("\r\n")
	for _, a := range args {
		c.w.WriteByte('$')
		c.w.WriteString(strconv.Itoa(len(a)))
		c.w.WriteString("\r\n")
		c.w.WriteString(a)
		c.w.WriteString("\r\n")
	}
	return c.w.Flush()
}

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (Reply, error) {
	line, err := readLine(r)
	if err != nil {
		return Reply{}, err
	}
	if len(line) == 0 {
		return Reply{}, errors.New("empty reply line")
	}
	rep := Reply{Kind: line[0]}
	body := line[1:]
	switch rep.Kind {
	case '+', '-':
		rep.Str = body
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return Reply{}, fmt.Errorf("bad integer reply %q", line)
		}
		rep.Int = n
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > maxBulk {
			return Reply{}, fmt.Errorf("bad bulk length %q", line)
		}
		if n == -1 {
			rep.Nil = true
			return rep, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return Reply{}, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return Reply{}, errors.New("bulk string not terminated by CRLF")
		}
		rep.Str = string(buf[:n])
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return Reply{}, fmt.Errorf("bad array length %q", line)
		}
		if n == -1 {
			rep.Nil = true
			return rep, nil
		}
		rep.Array = make([]Reply, n)
		for i := range rep.Array {
			if rep.Array[i], err = readReply(r); err != nil {
				return Reply{}, err
			}
		}
	default:
		return Reply{}, fmt.Errorf("unsupported reply type %q", line)
	}
	return rep, nil
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return "", fmt.Errorf("reply line %q not terminated by CRLF", line)
	}
	return line[:len(line)-2], nil
}

// Do runs one command on a fresh TCP connection and closes it. timeout bounds
// the dial and the round trip together (ctx may shorten it). An error reply
// ("-LOADING ...", "-MISCONF ...") is returned as a Reply with a nil error.
func (cl Client) Do(ctx context.Context, addr string, timeout time.Duration, args ...string) (Reply, error) {
	if len(args) == 0 {
		return Reply{}, errors.New("probe: no command given")
	}
	start := time.Now()
	c, err := cl.dial(ctx, addr, timeout)
	if err != nil {
		return Reply{}, fmt.Errorf("connect to %s for %s: %w", addr, args[0], err)
	}
	defer c.close()
	rep, err := c.do(ctx, timeout-time.Since(start), args...)
	if err != nil {
		return Reply{}, fmt.Errorf("%s on %s: %w", args[0], addr, err)
	}
	return rep, nil
}

// infoTimeout bounds INFO when ctx has no deadline: a loading server answers
// only at its load checkpoints, tens of milliseconds apart.
const infoTimeout = 10 * time.Second

// Info runs INFO [section] and returns its fields. It works while the server
// is loading (INFO is allowed during LOADING).
func (cl Client) Info(ctx context.Context, addr string, section string) (map[string]string, error) {
	args := []string{"INFO"}
	if section != "" {
		args = append(args, section)
	}
	rep, err := cl.Do(ctx, addr, infoTimeout, args...)
	if err != nil {
		return nil, err
	}
	return infoFields(rep)
}

// infoFields parses an INFO reply: "# Section" headers and "key:value" lines.
func infoFields(rep Reply) (map[string]string, error) {
	if rep.Kind != '$' || rep.Nil {
		return nil, fmt.Errorf("INFO replied %s", rep)
	}
	fields := make(map[string]string, 64)
	for _, line := range strings.Split(rep.Str, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}

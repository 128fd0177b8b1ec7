package loadgen

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// errRedial is what the one-shot dialer returns if go-redis asks for a second
// connection; the writer throws the client away before that can happen.
var errRedial = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection already handed out")}

// dial opens a TCP connection itself rather than letting go-redis do it: the
// go-redis pool retries failed dials, logs each failure and, after PoolSize
// failures, only retries once per second (FACTS.md Part 2 §3). Dialing here
// makes a refused connection an immediate, quiet Fail and lets the first write
// after a restart land within milliseconds.
// With TLS the handshake is part of the dial; go-redis then sends HELLO with
// AUTH (valkeyconn.Settings.Apply) inside the first command, within its
// timeout, and the resp writer client does the same (respConn.hello).
func dial(conn valkeyconn.Settings, addr string, timeout time.Duration) (net.Conn, error) {
	return conn.Dial(context.Background(), addr, timeout)
}

// opaqueConn hides the socket's SyscallConn from go-redis, whose pool would
// otherwise peek at the socket (one extra syscall) before every command. A
// connection that died while idle then shows up as the op's own error.
type opaqueConn struct{ net.Conn }

// newClient wraps an established connection in a go-redis client that never
// dials, retries or sends anything the server would count as an error.
func newClient(conn valkeyconn.Settings, nc net.Conn, opTimeout time.Duration) *redis.Client {
	handoff := make(chan net.Conn, 1)
	handoff <- opaqueConn{nc}
	return redis.NewClient(conn.Apply(&redis.Options{
		Addr: nc.RemoteAddr().String(),
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			select {
			case c := <-handoff:
				return c, nil
			default:
				return nil, errRedial
			}
		},
		Protocol:         2,
		DisableIdentity:  true,
		MaxRetries:       -1,
		DialerRetries:    1,
		PoolSize:         1,
		PipelinePoolSize: -1, // pipelines share the one connection
		MaxIdleConns:     1,
		ConnMaxIdleTime:  -1,
		ReadTimeout:      opTimeout,
		WriteTimeout:     opTimeout,
		PoolTimeout:      opTimeout,
	}))
}

// lostConn reports whether a command's err means the client is done for:
// a transport error, or an error reply after which go-redis dropped its one
// connection. It drops one whose HELLO or AUTH failed and one whose reply it
// counts as a bad connection (READONLY); the one-shot dialer would then
// refuse every later command (fail/conn, and a log line each).
func lostConn(client *redis.Client, err error) bool {
	return err != nil && (!isReply(err) || client.PoolStats().TotalConns == 0)
}

// isReply reports whether err is an error reply from the server, after which
// the connection is still good.
func isReply(err error) bool {
	var reply redis.Error
	return errors.As(err, &reply)
}

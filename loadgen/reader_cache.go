package loadgen

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// cache is the client the reader's requests go through: go-redis (the
// default and tuned settings) or the resp client.
type cache interface {
	// get reports whether key is in the cache; err is the cache's failure
	// (an error reply, a timeout, a lost connection).
	get(ctx context.Context, key string) (found bool, err error)
	set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	close() error
}

var (
	_ cache = goRedisCache{}
	_ cache = (*respCache)(nil)
)

// goRedisCache is a go-redis client, as an application holds one.
type goRedisCache struct{ c *redis.Client }

func (g goRedisCache) get(ctx context.Context, key string) (bool, error) {
	err := g.c.Get(ctx, key).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

func (g goRedisCache) set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return g.c.Set(ctx, key, value, ttl).Err()
}

func (g goRedisCache) close() error { return g.c.Close() }

// respCache is ReaderClientRESP: raw RESP over a pool of up to one
// connection per request in flight, with the tuned client's timeouts and no
// retries. Instead of go-redis's check of a pooled connection before every
// use (a recvfrom per GET), a connection idle for over idleCheck is peeked
// at, as the writer does, so one the server closed at a restart is dropped
// instead of failing a read.
type respCache struct {
	dial    func(ctx context.Context) (net.Conn, error)
	timeout time.Duration
	idle    chan *respConn
}

// Timeouts of the resp reader client: the tuned client's.
const (
	respReaderDialTimeout = 200 * time.Millisecond
	respReaderTimeout     = 100 * time.Millisecond
)

func newRespCache(cfg *ReaderConfig, timeouts *atomic.Uint64) *respCache {
	return &respCache{
		dial: func(ctx context.Context) (net.Conn, error) {
			c, err := cfg.Conn.DialAuth(ctx, cfg.Addr(), respReaderDialTimeout)
			if err != nil {
				return nil, err
			}
			return countTimeouts(c, timeouts), nil
		},
		timeout: respReaderTimeout,
		idle:    make(chan *respConn, cfg.Concurrency),
	}
}

// take is an idle connection that is still open, or a new one.
func (p *respCache) take(ctx context.Context) (*respConn, error) {
	for {
		select {
		case c := <-p.idle:
			if time.Since(c.used) > idleCheck && !alive(c.nc) {
				_ = c.nc.Close()
				continue
			}
			return c, nil
		default:
			nc, err := p.dial(ctx)
			if err != nil {
				return nil, err
			}
			return newRespConn(nc, p.timeout), nil
		}
	}
}

// release pools c again, or closes it after a transport error (a reply
// may still be due on it) or when the pool is full.
func (p *respCache) release(c *respConn, err error) {
	if err != nil {
		_ = c.nc.Close()
		return
	}
	c.used = time.Now()
	select {
	case p.idle <- c:
	default:
		_ = c.nc.Close()
	}
}

var (
	getCommand = []byte("GET")
	setCommand = []byte("SET")
	pxOption   = []byte("PX")
)

func (p *respCache) get(ctx context.Context, key string) (bool, error) {
	c, err := p.take(ctx)
	if err != nil {
		return false, err
	}
	c.appendCommand(getCommand, []byte(key))
	var found bool
	var reply error
	if err = c.send(); err == nil {
		found, reply, err = c.readBulk()
	}
	p.release(c, err)
	if err != nil {
		return false, err
	}
	return found, reply
}

func (p *respCache) set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	c, err := p.take(ctx)
	if err != nil {
		return err
	}
	if ttl > 0 {
		// At least 1 ms, as go-redis rounds it: PX 0 is refused.
		c.appendCommand(setCommand, []byte(key), value, pxOption, strconv.AppendInt(nil, max(ttl.Milliseconds(), 1), 10))
	} else {
		c.appendCommand(setCommand, []byte(key), value)
	}
	var reply error
	if err = c.send(); err == nil {
		reply, err = c.readStatus()
	}
	p.release(c, err)
	if err != nil {
		return err
	}
	return reply
}

// close closes the pooled connections; the reader calls it once every
// request has finished.
func (p *respCache) close() error {
	for {
		select {
		case c := <-p.idle:
			_ = c.nc.Close()
		default:
			return nil
		}
	}
}

// countTimeouts wraps a dialled connection so its timeouts are counted,
// keeping the socket visible (syscall.Conn) to the checks that peek at it.
func countTimeouts(c net.Conn, timeouts *atomic.Uint64) net.Conn {
	counted := timeoutCountingConn{Conn: c, timeouts: timeouts}
	if sc, ok := c.(syscall.Conn); ok {
		return syscallCountingConn{counted, sc}
	}
	return counted
}

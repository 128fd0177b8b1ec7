// Package valkeyconn holds how the harness connects to Valkey: the ACL user
// and password, TLS, and the go-redis options every harness client shares.
// It is the one place a connection is built, so authentication and TLS are
// never forgotten by one caller, and the password never leaves it (String
// redacts it; it is sent only inside AUTH).
package valkeyconn

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Auth is an ACL user and its password. An empty Password sends no AUTH;
// an empty User with a Password authenticates as the default user
// (AUTH <password>, as requirepass expects).
type Auth struct {
	User     string
	Password string
}

// String names the user and never the password.
func (a Auth) String() string {
	switch {
	case a.Password == "":
		return "no authentication"
	case a.User == "":
		return "default user with a password"
	}
	return "user " + a.User
}

// Settings is everything but the address that a connection to Valkey
// needs. The zero value is a plaintext, unauthenticated connection.
type Settings struct {
	Auth Auth
	// TLS, when not nil, wraps every connection (its ServerName is the
	// name checked against the certificate).
	TLS *tls.Config
}

// String describes the settings for logs and results, without secrets.
func (s Settings) String() string {
	if s.TLS == nil {
		return s.Auth.String() + ", plaintext"
	}
	name := s.TLS.ServerName
	if name == "" {
		name = "the address's host"
	}
	return s.Auth.String() + ", TLS verifying " + name
}

// Timeouts are a caller's go-redis timeouts; zero keeps go-redis's default.
type Timeouts struct {
	Dial, Read, Write, Pool time.Duration
}

// Apply adds the settings to options a caller built: user, password, TLS
// and no maintenance notifications (Valkey rejects CLIENT
// MAINT_NOTIFICATIONS and counts an error per client: FACTS.md Part 2 §2).
// A caller with its own Dialer must dial with Settings.Dial, since go-redis
// applies TLSConfig only in its own dialer.
func (s Settings) Apply(o *redis.Options) *redis.Options {
	o.Username = s.Auth.User
	o.Password = s.Auth.Password
	if s.TLS != nil {
		o.TLSConfig = s.TLS.Clone()
	}
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return o
}

// Options are the harness's own go-redis client options: RESP2, no CLIENT
// SETINFO, no retries (an op that fails is reported, never silently
// repeated: admin commands like SAVE must not run twice), one dial attempt
// (an unreachable server is an error to report, not to wait out), pool of
// poolSize, and the caller's timeouts.
func (s Settings) Options(addr string, poolSize int, t Timeouts) *redis.Options {
	return s.Apply(&redis.Options{
		Addr:            addr,
		Protocol:        2,
		DisableIdentity: true,
		MaxRetries:      -1,
		DialerRetries:   1,
		PoolSize:        poolSize,
		DialTimeout:     t.Dial,
		ReadTimeout:     t.Read,
		WriteTimeout:    t.Write,
		PoolTimeout:     t.Pool,
	})
}

// NewClient is redis.NewClient(s.Options(...)).
func (s Settings) NewClient(addr string, poolSize int, t Timeouts) *redis.Client {
	return redis.NewClient(s.Options(addr, poolSize, t))
}

// Dial opens a TCP connection (no Nagle delay) to addr and, with TLS, does
// the handshake; timeout bounds both (ctx may shorten it). It does not
// authenticate: go-redis does that itself on a connection its Dialer
// returns; raw RESP clients use DialAuth. A TLS failure wraps ErrRejected.
func (s Settings) Dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if s.TLS == nil {
		return nc, nil
	}
	cfg := s.TLS.Clone()
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, explainTLS(addr, err)
	}
	return tc, nil
}

// DialAuth is Dial followed by AUTH when a password is set: the
// connection a raw RESP client (the readiness probe, SHUTDOWN) uses.
func (s Settings) DialAuth(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	start := time.Now()
	nc, err := s.Dial(ctx, addr, timeout)
	if err != nil {
		return nil, err
	}
	deadline := time.Time{}
	if timeout > 0 {
		deadline = start.Add(timeout)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	if err := s.Authenticate(nc, deadline); err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}

package valkeyconn

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrRejected marks a connection the server refused because of the
// settings (a wrong user or password, none given, TLS mismatched or
// untrusted): bad input to fix, never something to retry.
var ErrRejected = errors.New("connection settings rejected")

// Authenticate sends AUTH on a fresh raw connection when a password is set
// and reads the one-line reply, byte by byte so nothing the server sends
// later is swallowed. A refusal wraps ErrRejected; a lost connection is
// returned as is (the server may be restarting).
func (s Settings) Authenticate(nc net.Conn, deadline time.Time) error {
	if s.Auth.Password == "" {
		return nil
	}
	if err := nc.SetDeadline(deadline); err != nil {
		return err
	}
	defer nc.SetDeadline(time.Time{})
	args := []string{"AUTH", s.Auth.Password}
	if s.Auth.User != "" {
		args = []string{"AUTH", s.Auth.User, s.Auth.Password}
	}
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	if _, err := io.WriteString(nc, b.String()); err != nil {
		return fmt.Errorf("send AUTH to %s: %w", nc.RemoteAddr(), err)
	}
	line, err := readLine(nc)
	if err != nil {
		return fmt.Errorf("read AUTH reply from %s: %w", nc.RemoteAddr(), err)
	}
	if strings.HasPrefix(line, "+") {
		return nil
	}
	return explainReply(nc.RemoteAddr().String(), s.Auth, strings.TrimPrefix(line, "-"))
}

// readLine reads one CRLF-terminated line without buffering past it.
func readLine(r io.Reader) (string, error) {
	var line []byte
	one := make([]byte, 1)
	for len(line) < 4096 {
		if _, err := io.ReadFull(r, one); err != nil {
			return "", err
		}
		if one[0] == '\n' && len(line) > 0 && line[len(line)-1] == '\r' {
			return string(line[:len(line)-1]), nil
		}
		line = append(line, one[0])
	}
	return "", errors.New("reply line longer than 4096 bytes")
}

// explainReply turns an authentication error reply into one line naming
// the flags to fix.
func explainReply(addr string, a Auth, reply string) error {
	switch {
	case strings.HasPrefix(reply, "NOAUTH"):
		return fmt.Errorf("%w: %s requires authentication (%s): pass --user NAME and --password-env VAR or --password-file PATH", ErrRejected, addr, reply)
	case strings.HasPrefix(reply, "WRONGPASS"):
		return fmt.Errorf("%w: %s refused %s (WRONGPASS: wrong password, unknown or disabled user): check --user and --password-env/--password-file", ErrRejected, addr, a)
	case strings.Contains(reply, "without any password configured"):
		return fmt.Errorf("%w: %s has no password set but one was given: drop --password-env/--password-file, or check the address", ErrRejected, addr)
	case strings.HasPrefix(reply, "NOPERM"):
		return fmt.Errorf("%w: %s: %s lacks a permission the harness needs (%s): grant it in the user's ACL rules", ErrRejected, addr, a, reply)
	}
	return fmt.Errorf("%w: %s refused AUTH for %s: %s", ErrRejected, addr, a, reply)
}

// explainTLS turns a handshake failure into one line naming the flag to
// fix.
func explainTLS(addr string, err error) error {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
		alert     tls.AlertError
	)
	switch {
	case errors.As(err, &unknownCA):
		return fmt.Errorf("%w: TLS to %s: the server's certificate is not signed by a trusted CA (%v): pass --tls-ca FILE or --tls-ca-env VAR with the CA certificate", ErrRejected, addr, err)
	case errors.As(err, &hostname):
		return fmt.Errorf("%w: TLS to %s: %v: pass --tls-server-name with a name the certificate holds", ErrRejected, addr, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("%w: TLS to %s: the server's certificate is not valid (%v): renew it or check the CA", ErrRejected, addr, err)
	case errors.As(err, &record):
		return fmt.Errorf("%w: TLS to %s: the server does not speak TLS on this port: drop --tls, or use the server's tls-port", ErrRejected, addr)
	case errors.As(err, &alert):
		return fmt.Errorf("%w: TLS to %s: the server refused the handshake (%v); if it wants a client certificate (tls-auth-clients yes), set tls-auth-clients no or optional: the harness sends none", ErrRejected, addr, err)
	}
	return fmt.Errorf("TLS handshake with %s: %w", addr, err)
}

// Explain classifies an error from a go-redis command on a new connection:
// an authentication refusal or a TLS failure becomes one line wrapping
// ErrRejected; anything else is returned unchanged.
func (s Settings) Explain(addr string, err error) error {
	if err == nil || errors.Is(err, ErrRejected) {
		return err
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		msg := reply.Error()
		for _, p := range []string{"NOAUTH", "WRONGPASS", "NOPERM"} {
			if strings.HasPrefix(msg, p) {
				return explainReply(addr, s.Auth, msg)
			}
		}
		if strings.Contains(msg, "without any password configured") {
			return explainReply(addr, s.Auth, msg)
		}
		return err
	}
	if e := explainTLS(addr, err); errors.Is(e, ErrRejected) {
		return e
	}
	if s.TLS == nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		return fmt.Errorf("%w: %s closed the connection before replying: if the server has TLS on, pass --tls (and --tls-ca / --tls-server-name)", ErrRejected, addr)
	}
	return err
}

// Check opens the first connection of a run the way every later one will
// (TLS, AUTH) and sends PING, so wrong settings fail before any trial with
// one line wrapping ErrRejected. A server that cannot be reached at all is
// a plain error. A LOADING reply counts as reachable.
func (s Settings) Check(ctx context.Context, addr string, timeout time.Duration) error {
	nc, err := s.DialAuth(ctx, addr, timeout)
	var netErr net.Error
	if err != nil && s.TLS != nil && ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()) {
		// A plaintext server takes the ClientHello for a command and
		// waits for its end; a TLS server answers at once, even loading.
		return fmt.Errorf("%w: TLS to %s: no handshake reply within %v: the server does not seem to speak TLS on this port: drop --tls, or use the server's tls-port", ErrRejected, addr, timeout)
	}
	if err != nil {
		return s.Explain(addr, err)
	}
	defer nc.Close()
	if err := nc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(nc, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return s.Explain(addr, fmt.Errorf("PING %s: %w", addr, err))
	}
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil {
		return s.Explain(addr, fmt.Errorf("PING %s: %w", addr, err))
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "-") && !strings.HasPrefix(line, "-LOADING") {
		reply := strings.TrimPrefix(line, "-")
		if strings.HasPrefix(reply, "NOAUTH") || strings.HasPrefix(reply, "NOPERM") {
			return explainReply(addr, s.Auth, reply)
		}
		return fmt.Errorf("PING %s: %s", addr, reply)
	}
	return nil
}

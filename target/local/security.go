package local

import (
	"strconv"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// ACLUser is one ACL user a server starts with (--user NAME on >PW RULES).
type ACLUser struct {
	Name, Password string
	Rules          []string // e.g. ~* +@all; none: ~* &* +@all
}

// TLSFiles are the server side of TLS: with them the server listens with
// TLS only, on the configured port (the plaintext port off), and asks
// clients for no certificate.
type TLSFiles struct {
	CertFile, KeyFile, CAFile string
}

// Security is how a server authenticates and encrypts; the zero value is
// an open plaintext server, as before. Client is how the harness's own
// checks (start-up PING, SHUTDOWN NOSAVE) connect to it.
type Security struct {
	// Users, when set, turn the default user off (FACTS.md Part 2 §8).
	Users []ACLUser
	// RequirePass sets requirepass (AUTH <password> as the default user).
	RequirePass string
	TLS         *TLSFiles
	Client      valkeyconn.Settings
}

// args are the server arguments for s; port is the listening port.
func (s Security) args(port int) []string {
	var args []string
	if len(s.Users) > 0 {
		args = append(args, "--user", "default", "off")
		for _, u := range s.Users {
			rules := u.Rules
			if len(rules) == 0 {
				rules = []string{"~*", "&*", "+@all"}
			}
			args = append(args, "--user", u.Name, "on", ">"+u.Password)
			args = append(args, rules...)
		}
	}
	if s.RequirePass != "" {
		args = append(args, "--requirepass", s.RequirePass)
	}
	if s.TLS != nil {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", s.TLS.CertFile, "--tls-key-file", s.TLS.KeyFile,
			"--tls-ca-cert-file", s.TLS.CAFile, "--tls-auth-clients", "no")
	}
	return args
}

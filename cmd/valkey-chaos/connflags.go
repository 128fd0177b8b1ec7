package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target/local"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// connFlags are how every command that connects to Valkey authenticates
// and encrypts. The password is read from the environment or a file, never
// from the command line (a process list shows it), and never printed.
type connFlags struct {
	user, passwordEnv, passwordFile string
	tls                             bool
	tlsCA, tlsCAEnv, tlsServerName  string
}

func (c *connFlags) register(f *pflag.FlagSet) {
	f.StringVar(&c.user, "user", "", "Valkey ACL user (needs --password-env or --password-file; without --user a password authenticates the default user)")
	f.StringVar(&c.passwordEnv, "password-env", "", "read the Valkey password from this environment variable, e.g. VALKEY_PASSWORD")
	f.StringVar(&c.passwordFile, "password-file", "", "read the Valkey password from this file (one line)")
	f.BoolVar(&c.tls, "tls", false, "connect to Valkey over TLS")
	f.StringVar(&c.tlsCA, "tls-ca", "", "with --tls: PEM file of the CA that signed the server's certificate (default: the system's roots)")
	f.StringVar(&c.tlsCAEnv, "tls-ca-env", "", "with --tls: environment variable holding the CA certificate in PEM (for images without the file)")
	f.StringVar(&c.tlsServerName, "tls-server-name", "", "with --tls: name to verify the server's certificate against (default: the host of the address)")
}

// settings resolves the flags; getenv is os.Getenv outside tests.
func (c *connFlags) settings(getenv func(string) string) (valkeyconn.Settings, error) {
	bad := func(format string, args ...any) (valkeyconn.Settings, error) {
		return valkeyconn.Settings{}, fmt.Errorf("%w: %s", result.ErrBadInput, fmt.Sprintf(format, args...))
	}
	var s valkeyconn.Settings
	switch {
	case c.passwordEnv != "" && c.passwordFile != "":
		return bad("--password-env and --password-file: give only one")
	case c.passwordEnv != "":
		s.Auth.Password = getenv(c.passwordEnv)
		if s.Auth.Password == "" {
			return bad("--password-env %s: the environment variable is unset or empty: export it, or use --password-file", c.passwordEnv)
		}
	case c.passwordFile != "":
		b, err := os.ReadFile(c.passwordFile)
		if err != nil {
			return bad("--password-file: %v: give a readable file holding the password", err)
		}
		s.Auth.Password = strings.TrimRight(string(b), "\r\n")
		if s.Auth.Password == "" {
			return bad("--password-file %s is empty: put the password in it", c.passwordFile)
		}
	}
	if c.user != "" && s.Auth.Password == "" {
		return bad("--user %s needs a password: add --password-env VAR or --password-file PATH", c.user)
	}
	s.Auth.User = c.user
	if !c.tls {
		if c.tlsCA != "" || c.tlsCAEnv != "" || c.tlsServerName != "" {
			return bad("--tls-ca, --tls-ca-env and --tls-server-name need --tls")
		}
		return s, nil
	}
	var ca []byte
	switch {
	case c.tlsCA != "" && c.tlsCAEnv != "":
		return bad("--tls-ca and --tls-ca-env: give only one")
	case c.tlsCA != "":
		b, err := os.ReadFile(c.tlsCA)
		if err != nil {
			return bad("--tls-ca: %v: give the CA certificate's PEM file", err)
		}
		ca = b
	case c.tlsCAEnv != "":
		if ca = []byte(getenv(c.tlsCAEnv)); len(ca) == 0 {
			return bad("--tls-ca-env %s: the environment variable is unset or empty: put the CA certificate (PEM) in it", c.tlsCAEnv)
		}
	}
	cfg, err := valkeyconn.TLSConfig(ca, c.tlsServerName)
	if err != nil {
		return bad("--tls-ca: %v", err)
	}
	s.TLS = cfg
	return s, nil
}

// localSecurity is how the local target starts its servers so that the
// connection flags fit them: the --user (or the default user) with the
// password and every permission, and TLS with --server-tls-cert/-key.
func localSecurity(o runOpts, conn valkeyconn.Settings) (local.Security, error) {
	sec := local.Security{Client: conn}
	switch {
	case conn.Auth.User != "":
		sec.Users = []local.ACLUser{{Name: conn.Auth.User, Password: conn.Auth.Password, Rules: strings.Fields(o.serverACL)}}
	case o.serverACL != "":
		return sec, fmt.Errorf("%w: --server-acl gives the rules of the --user the local server starts with: give --user too", result.ErrBadInput)
	case conn.Auth.Password != "":
		sec.RequirePass = conn.Auth.Password
	}
	hasFiles := o.serverTLSCert != "" || o.serverTLSKey != ""
	switch {
	case conn.TLS == nil && hasFiles:
		return sec, fmt.Errorf("%w: --server-tls-cert/--server-tls-key need --tls", result.ErrBadInput)
	case conn.TLS != nil && (o.serverTLSCert == "" || o.serverTLSKey == "" || o.conn.tlsCA == ""):
		return sec, fmt.Errorf("%w: --target local --tls starts its servers with TLS: give --server-tls-cert, --server-tls-key and --tls-ca (the CA file the server also uses)", result.ErrBadInput)
	case conn.TLS != nil:
		sec.TLS = &local.TLSFiles{CertFile: o.serverTLSCert, KeyFile: o.serverTLSKey, CAFile: o.conn.tlsCA}
	}
	return sec, nil
}

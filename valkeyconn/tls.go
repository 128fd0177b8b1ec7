package valkeyconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// TLSConfig is the client side of TLS: trust caPEM (PEM certificates;
// empty trusts the system pool) and check the certificate against
// serverName (empty: the host of each address). TLS 1.2 at least, as
// Valkey's default tls-protocols.
func TLSConfig(caPEM []byte, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("no PEM certificate found in the CA input: pass the CA certificate in PEM form (-----BEGIN CERTIFICATE-----)")
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// Describe is for error messages: what was tried, without the password.
func (s Settings) Describe(addr string) string {
	return fmt.Sprintf("%s (%s)", addr, s)
}

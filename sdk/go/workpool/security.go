package workpool

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// WithToken sends "authorization: Bearer TOKEN" with every call on the
// connection, for a server that lists tokens. The token also travels over
// plaintext connections, which a server on loopback may use; beyond loopback,
// combine it with WithTLS.
func WithToken(token string) (grpc.DialOption, error) {
	if token == "" {
		return nil, errors.New("workpool: token is empty; pass a token made by `workpool token create`")
	}
	for _, r := range token {
		if r < 0x21 || r > 0x7e {
			return nil, errors.New("workpool: token must be printable ASCII without spaces")
		}
	}
	return grpc.WithPerRPCCredentials(bearer{header: "Bearer " + token}), nil
}

type bearer struct{ header string }

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": b.header}, nil
}

// RequireTransportSecurity is false so that a token works on loopback without
// TLS; the server warns when it listens beyond loopback without TLS.
func (b bearer) RequireTransportSecurity() bool { return false }

// WithTLS connects with TLS. caFile is the PEM file of the CA that signed
// the server's certificate; empty trusts the system's roots. certFile and
// keyFile are the client's certificate and key for a server that requires
// mutual TLS; leave both empty otherwise.
func WithTLS(caFile, certFile, keyFile string) (grpc.DialOption, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("workpool: caFile: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("workpool: caFile: no PEM certificate in %s", caFile)
		}
		config.RootCAs = roots
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("workpool: certFile, keyFile: pass both for mutual TLS, or neither")
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("workpool: certFile, keyFile: %w", err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(config)), nil
}

package main

import (
	"os"

	"google.golang.org/grpc"

	"github.com/workpool/workpool/sdk/go/workpool"
)

// dialOptions connects with TLS when WORKPOOL_CA_FILE names the CA's PEM
// file, and sends a bearer token when WORKPOOL_TOKEN is set. The orchestrator
// sets both for the scenarios and neither for the cross-language flows.
func dialOptions() ([]grpc.DialOption, error) {
	var options []grpc.DialOption
	if caFile := os.Getenv("WORKPOOL_CA_FILE"); caFile != "" {
		tls, err := workpool.WithTLS(caFile, "", "")
		if err != nil {
			return nil, err
		}
		options = append(options, tls)
	}
	if token := os.Getenv("WORKPOOL_TOKEN"); token != "" {
		bearer, err := workpool.WithToken(token)
		if err != nil {
			return nil, err
		}
		options = append(options, bearer)
	}
	return options, nil
}

// dial opens a client with the options above.
func dial(server string) (*workpool.Client, error) {
	options, err := dialOptions()
	if err != nil {
		return nil, err
	}
	return workpool.Dial(server, workpool.WithDialOptions(options...))
}

// newConn opens a connection with the options above.
func newConn(server string) (*grpc.ClientConn, error) {
	options, err := dialOptions()
	if err != nil {
		return nil, err
	}
	return workpool.NewConn(server, options...)
}

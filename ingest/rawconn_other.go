//go:build !linux

package ingest

import (
	"context"
	"net"
)

func dialRTSP(ctx context.Context, network, address string) (net.Conn, error) {
	return (&net.Dialer{}).DialContext(ctx, network, address)
}

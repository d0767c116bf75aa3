package registry

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Embedded is a single-node etcd inside the gateway, on loopback only.
type Embedded struct {
	etcd     *embed.Etcd
	Endpoint string // client URL
}

func freeLoopbackURL() (*url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	return &url.URL{Scheme: "http", Host: addr}, nil
}

// StartEmbedded starts etcd with its data under dir and waits until ready.
func StartEmbedded(dir string, timeout time.Duration) (*Embedded, error) {
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(dir, "etcd")
	// etcd's own logger reports every normal shutdown as an error with a
	// stack trace; its failures reach operators through ours instead (start
	// errors, 503s, watch warnings).
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	client, err := freeLoopbackURL()
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: %w", err)
	}
	peer, err := freeLoopbackURL()
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: %w", err)
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.AutoCompactionMode = "revision"
	cfg.AutoCompactionRetention = "10000"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(timeout):
		e.Close()
		return nil, fmt.Errorf("embedded etcd: not ready within %s: %w", timeout, ErrUnavailable)
	}
	return &Embedded{etcd: e, Endpoint: client.String()}, nil
}

// Close stops etcd.
func (e *Embedded) Close() { e.etcd.Close() }

// Connect opens a client to endpoints.
func Connect(endpoints []string, timeout time.Duration) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: timeout,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := cli.Get(ctx, "health-probe"); err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return cli, nil
}

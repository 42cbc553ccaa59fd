package streaming

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	stan "github.com/nats-io/stan.go"
)

// DefaultCluster is the OpenFaaS CE queue server's cluster id.
const DefaultCluster = "faas-cluster"

// Client is a NATS Streaming connection made on first use. Each Client has
// its own client id (Prefix + "-" + nuid), so replicas and restarted
// processes never collide on the server. It is safe for concurrent use.
type Client struct {
	URL         string // nats://host:4222
	ClusterID   string // DefaultCluster when empty
	Prefix      string // client id prefix ("faasmon" when empty)
	ClientID    string // generated from Prefix when empty
	ConnectWait time.Duration

	mu        sync.Mutex
	conn      stan.Conn
	lost      chan struct{} // closed when conn is lost
	generated bool          // ClientID was made here, so may be made again
}

// Conn returns the connection, connecting if needed, and a channel closed
// when that connection is lost (or dropped after a failed publication).
func (c *Client) Conn(ctx context.Context) (stan.Conn, <-chan struct{}, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return c.conn, c.lost, nil
	}
	if c.ClientID == "" || c.generated {
		// A new id for every attempt: when an attempt times out on our
		// side after the server registered the id, retrying with the same
		// id fails with "clientID already registered" until the server
		// notices the dead client, minutes later.
		p := c.Prefix
		if p == "" {
			p = "faasmon"
		}
		c.ClientID, c.generated = p+"-"+strings.ToLower(nuid.Next()), true
	}
	cluster := c.ClusterID
	if cluster == "" {
		cluster = DefaultCluster
	}
	wait := c.ConnectWait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok {
		wait = max(min(wait, time.Until(dl)), 50*time.Millisecond)
	}
	lost := make(chan struct{})
	conn, err := stan.Connect(cluster, c.ClientID,
		stan.NatsURL(c.URL),
		stan.ConnectWait(wait),
		stan.PubAckWait(5*time.Second),
		stan.Pings(2, 5),
		stan.NatsOptions(nats.Timeout(wait), nats.Name(c.ClientID)),
		stan.SetConnectionLostHandler(func(sc stan.Conn, _ error) { c.forget(sc) }))
	if err != nil {
		return nil, nil, fmt.Errorf("nats-streaming connect %s (cluster %s): %w", c.URL, cluster, err)
	}
	c.conn, c.lost = conn, lost
	return conn, lost, nil
}

// forget makes sc no longer the current connection and signals its loss.
func (c *Client) forget(sc stan.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != sc || sc == nil {
		return false
	}
	c.conn = nil
	close(c.lost)
	return true
}

// drop closes sc if it is still the current connection.
func (c *Client) drop(sc stan.Conn) {
	if c.forget(sc) {
		sc.Close()
	}
}

// Publish publishes data on channel and waits for the server's ack (or
// ctx). A connection that timed out or closed is dropped, so the next call
// connects again.
func (c *Client) Publish(ctx context.Context, channel string, data []byte) error {
	sc, _, err := c.Conn(ctx)
	if err != nil {
		return err
	}
	acked := make(chan error, 1)
	if _, err := sc.PublishAsync(channel, data, func(_ string, err error) { acked <- err }); err != nil {
		if errors.Is(err, stan.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionClosed) {
			c.drop(sc)
		}
		return fmt.Errorf("nats-streaming publish on %s: %w", channel, err)
	}
	select {
	case err := <-acked:
		if err != nil {
			if errors.Is(err, stan.ErrTimeout) {
				c.drop(sc)
			}
			return fmt.Errorf("nats-streaming publish ack on %s: %w", channel, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("nats-streaming publish ack on %s: %w", channel, ctx.Err())
	}
}

// Close closes the connection, if any. Durable subscriptions made on it
// are kept by the server (stan's Close, not Unsubscribe).
func (c *Client) Close() error {
	c.mu.Lock()
	sc := c.conn
	c.conn = nil
	if sc != nil {
		close(c.lost)
	}
	c.mu.Unlock()
	if sc == nil {
		return nil
	}
	return sc.Close()
}

// Environment variables naming the server: OpenFaaS's own names (the
// gateway and queue-worker read them too), and ours to override both.
const (
	EnvURL     = "FAASMON_NATS_URL"       // nats://host:port; wins when set
	EnvAddress = "faas_nats_address"      // nats.openfaas
	EnvPort    = "faas_nats_port"         // 4222
	EnvCluster = "faas_nats_cluster_name" // faas-cluster
)

// URLFromEnv is the server's URL from the environment, defaulting to the
// OpenFaaS chart's NATS service.
func URLFromEnv(getenv func(string) string) string {
	if u := strings.TrimSpace(getenv(EnvURL)); u != "" {
		return u
	}
	host := strings.TrimSpace(getenv(EnvAddress))
	if host == "" {
		host = "nats.openfaas"
	}
	port := strings.TrimSpace(getenv(EnvPort))
	if port == "" {
		port = "4222"
	}
	return "nats://" + net.JoinHostPort(host, port)
}

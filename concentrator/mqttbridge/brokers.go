package mqttbridge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/xiot/xiot/internal/config"
)

// Broker connections. The bridge always has the connection of the
// configuration (mqtt.brokers, id MainBrokerID); AddBroker adds further
// brokers at run time, each with a paho client, a session and a Homie
// base of its own. A mapping subscribes on the broker its Broker key
// names. A device belongs to the connection that first reported it: its
// availability follows that connection, its commands are published there,
// and messages about the same device id from another broker are counted
// in Stats.DeviceConflicts and dropped.

// MainBrokerID is the id of the configuration's broker connection.
const MainBrokerID = ""

// MaxBrokers bounds the brokers AddBroker accepts.
const MaxBrokers = 32

// Errors of the broker functions, wrapped with context.
var (
	// ErrUnknownBroker: no broker added with AddBroker has that id.
	ErrUnknownBroker = errors.New("mqttbridge: unknown broker")
	// ErrBrokerExists: a broker already has that id.
	ErrBrokerExists = errors.New("mqttbridge: broker id in use")
	// ErrBrokerInUse: mappings subscribe on the broker; remove them first.
	ErrBrokerInUse = errors.New("mqttbridge: broker in use by mappings")
	// ErrTooManyBrokers: MaxBrokers brokers were added already.
	ErrTooManyBrokers = errors.New("mqttbridge: too many brokers")
)

// BrokerError is a broker AddBroker or UpdateBroker refused: Problems
// maps its keys (url, username, …; "id" for the id) to what is wrong.
type BrokerError struct {
	Problems map[string]string
}

// Error lists the problems.
func (e *BrokerError) Error() string {
	return "mqttbridge: invalid broker: " + listProblems(e.Problems)
}

// Broker is a broker connection as the bridge holds it.
type Broker struct {
	// ID is MainBrokerID for the configuration's broker, else the id given
	// to AddBroker.
	ID string
	// URLs are the broker URLs tried in order, as they may be shown: a
	// password in a URL (paho takes credentials from there too) is
	// replaced by "xxxxx".
	URLs []string
	// Config is the broker as added (zero for the configuration's). Its
	// Password is the caller's to keep secret.
	Config config.MQTTBroker
	// Connected tells that the connection is up and subscribed.
	Connected bool
}

// conn is one broker connection; all but b and id are guarded by
// Bridge.mu (UpdateBroker replaces the client and settings).
type conn struct {
	b        *Bridge
	id       string
	urls     []string          // redacted, for logs and Broker
	settings config.MQTTBroker // AddBroker's, zero for the main one

	client    mqtt.Client
	homie     string        // Homie base topic with a trailing '/', or ""
	connected bool          // connected and subscribed
	connCh    chan struct{} // closed while connected
	removed   bool
}

// name is the connection as logs name it.
func (cn *conn) name() string {
	if cn.id == MainBrokerID {
		return "mqtt.brokers"
	}
	return cn.id
}

// onMessage is the connection's paho message handler.
func (cn *conn) onMessage(c mqtt.Client, msg mqtt.Message) { cn.b.onMessage(cn, c, msg) }

// connSettings are what a paho client of a connection is built from.
type connSettings struct {
	urls               []string
	clientID           string
	username, password string
	tls                func() (*tls.Config, error)
	clean              bool
	homie              bool
	homieBase          string
}

// newConn builds a connection and its paho client (not connected).
func (b *Bridge) newConn(id string, s connSettings) (*conn, error) {
	cn := &conn{b: b, id: id, urls: redactURLs(s.urls), connCh: make(chan struct{})}
	c, err := b.newClient(cn, s)
	if err != nil {
		return nil, err
	}
	cn.client = c
	cn.homie = homiePrefix(s)
	return cn, nil
}

// homiePrefix returns the Homie base topic of s with a trailing '/', or ""
// without Homie discovery.
func homiePrefix(s connSettings) string {
	if !s.homie {
		return ""
	}
	base := s.homieBase
	if base == "" {
		base = config.DefaultHomieBase
	}
	return strings.TrimSuffix(base, "/") + "/"
}

// newClient builds the paho client of a connection with the section's
// QoS-independent settings (keep-alive, timeouts, back-off).
func (b *Bridge) newClient(cn *conn, s connSettings) (mqtt.Client, error) {
	o := mqtt.NewClientOptions()
	useTLS := false
	for _, u := range s.urls {
		o.AddBroker(u)
		if pu, err := url.Parse(u); err == nil && slices.Contains([]string{"ssl", "tls", "mqtts", "tcps", "wss"}, pu.Scheme) {
			useTLS = true
		}
	}
	if useTLS {
		tc, err := s.tls()
		if err != nil {
			return nil, fmt.Errorf("mqttbridge: %w", err)
		}
		o.SetTLSConfig(tc)
	}
	o.SetClientID(s.clientID)
	if s.username != "" {
		o.SetUsername(s.username)
		o.SetPassword(s.password)
	}
	cfg := b.cfg
	o.SetCleanSession(s.clean)
	o.SetKeepAlive(cfg.Keepalive)
	o.SetConnectTimeout(cfg.ConnectTimeout)
	o.SetMaxReconnectInterval(cfg.ReconnectMax)
	o.SetConnectRetryInterval(min(time.Second, cfg.ReconnectMax))
	o.SetAutoReconnect(true)
	o.SetConnectRetry(true)
	o.SetResumeSubs(false) // onConnect resubscribes every time
	o.SetOrderMatters(true)
	o.SetCustomOpenConnectionFn(dialBroker)
	o.SetDefaultPublishHandler(cn.onMessage)
	o.SetOnConnectHandler(func(c mqtt.Client) { b.onConnect(cn, c) })
	o.SetConnectionLostHandler(func(c mqtt.Client, err error) { b.onConnectionLost(cn, c, err) })
	return mqtt.NewClient(o), nil
}

// brokerSettings returns the client settings of a broker node.
func (b *Bridge) brokerSettings(id string, bc config.MQTTBroker) connSettings {
	cid := bc.ClientID
	if cid == "" {
		cid = b.main.clientID() + "-" + id
	}
	return connSettings{
		urls: []string{bc.URL}, clientID: cid, username: bc.Username, password: bc.Password,
		tls: bc.TLSConfig, clean: bc.CleanSession, homie: bc.Homie, homieBase: bc.HomieBase,
	}
}

// clientID returns the client id of the connection's paho client.
func (cn *conn) clientID() string {
	r := cn.client.OptionsReader()
	return r.ClientID()
}

// CheckBrokerID returns why id cannot name a broker, or "".
func CheckBrokerID(id string) string {
	switch {
	case id == "":
		return "must not be empty"
	case len(id) > 64:
		return "must be at most 64 bytes"
	case strings.HasPrefix(id, "config"):
		return `must not start with "config" (the configuration's broker and mappings)`
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '/' || r == '+' || r == '#' }):
		return "must not contain control characters, /, + or #"
	}
	return ""
}

// CheckBroker returns the *BrokerError AddBroker or UpdateBroker would
// give for id and bc, or nil; it changes nothing.
func (b *Bridge) CheckBroker(id string, bc config.MQTTBroker) error {
	probs := bc.Problems()
	if why := CheckBrokerID(id); why != "" {
		if probs == nil {
			probs = map[string]string{}
		}
		probs["id"] = why
	}
	if probs == nil && bc.CAFile != "" {
		if _, err := bc.TLSConfig(); err != nil {
			probs = map[string]string{"ca_file": err.Error()}
		}
	}
	if probs != nil {
		return &BrokerError{Problems: probs}
	}
	return nil
}

// AddBroker adds a broker connection under id. On a started bridge it
// connects at once, in the background (paho retries until Close or
// RemoveBroker); before Start it connects at Start. It returns a
// *BrokerError, ErrBrokerExists, ErrTooManyBrokers or ErrClosed.
func (b *Bridge) AddBroker(id string, bc config.MQTTBroker) error {
	if err := b.CheckBroker(id, bc); err != nil {
		return err
	}
	cn, err := b.newConn(id, b.brokerSettings(id, bc))
	if err != nil {
		return &BrokerError{Problems: map[string]string{"url": err.Error()}}
	}
	cn.settings = bc
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return ErrClosed
	case b.connLocked(id) != nil:
		b.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrBrokerExists, id)
	case len(b.conns)-1 >= MaxBrokers:
		b.mu.Unlock()
		return fmt.Errorf("%w (limit %d)", ErrTooManyBrokers, MaxBrokers)
	}
	b.conns = append(b.conns, cn)
	started := b.started
	b.mu.Unlock()
	b.log.Info("mqtt broker added", "id", id, "url", bc.URL)
	if started {
		cn.client.Connect()
	}
	return nil
}

// UpdateBroker replaces the settings of broker id: it disconnects and
// connects again with the new ones. Its devices and mappings stay. It
// returns ErrUnknownBroker or a *BrokerError.
func (b *Bridge) UpdateBroker(id string, bc config.MQTTBroker) error {
	if err := b.CheckBroker(id, bc); err != nil {
		return err
	}
	b.mu.Lock()
	cn := b.connLocked(id)
	b.mu.Unlock()
	if cn == nil || id == MainBrokerID {
		return fmt.Errorf("%w: %q", ErrUnknownBroker, id)
	}
	s := b.brokerSettings(id, bc)
	c, err := b.newClient(cn, s)
	if err != nil {
		return &BrokerError{Problems: map[string]string{"url": err.Error()}}
	}
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return ErrClosed
	case cn.removed:
		b.mu.Unlock()
		return fmt.Errorf("%w: %q (removed)", ErrUnknownBroker, id)
	}
	old := cn.client
	cn.client, cn.settings, cn.urls = c, bc, redactURLs(s.urls)
	cn.homie = homiePrefix(s)
	b.setConnectedLocked(cn, false)
	started := b.started
	b.mu.Unlock()
	old.Disconnect(250)
	b.log.Info("mqtt broker changed", "id", id, "url", bc.URL)
	if started {
		c.Connect()
	}
	return nil
}

// redactURLs returns the URLs with any password replaced by "xxxxx".
func redactURLs(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		if pu, err := url.Parse(u); err == nil {
			out[i] = pu.Redacted()
		} else {
			out[i] = "(not a URL)"
		}
	}
	return out
}

// RemoveBroker disconnects and removes broker id; its devices stay in
// the registry, unavailable, with their last values. It returns
// ErrUnknownBroker, or ErrBrokerInUse while mappings subscribe on it.
func (b *Bridge) RemoveBroker(id string) error {
	b.mu.Lock()
	cn := b.connLocked(id)
	if cn == nil || id == MainBrokerID {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownBroker, id)
	}
	var users []string
	for _, m := range b.maps {
		if m.broker == id {
			users = append(users, m.id)
		}
	}
	if len(users) > 0 {
		b.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrBrokerInUse, strings.Join(users, ", "))
	}
	cn.removed = true
	b.conns = slices.DeleteFunc(b.conns, func(x *conn) bool { return x == cn })
	b.setConnectedLocked(cn, false)
	close(cn.connCh) // wakes commands queued for it; they see it removed
	c := cn.client
	b.mu.Unlock()
	c.Disconnect(250)
	b.log.Info("mqtt broker removed", "id", id)
	return nil
}

// connLocked returns the connection with id, or nil; b.mu is held.
func (b *Bridge) connLocked(id string) *conn {
	for _, cn := range b.conns {
		if cn.id == id {
			return cn
		}
	}
	return nil
}

// snapshot copies a connection out; b.mu is held.
func (cn *conn) snapshot() Broker {
	return Broker{ID: cn.id, URLs: slices.Clone(cn.urls), Config: cn.settings, Connected: cn.connected}
}

// Brokers returns every broker connection, the configuration's first.
func (b *Bridge) Brokers() []Broker {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Broker, len(b.conns))
	for i, cn := range b.conns {
		out[i] = cn.snapshot()
	}
	return out
}

// Broker returns the broker connection with that id.
func (b *Bridge) Broker(id string) (Broker, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cn := b.connLocked(id); cn != nil {
		return cn.snapshot(), true
	}
	return Broker{}, false
}

// WaitBroker waits until broker id (MainBrokerID: the configuration's)
// is connected and subscribed, or ctx ends; it returns ErrUnknownBroker
// also when the broker is removed meanwhile.
func (b *Bridge) WaitBroker(ctx context.Context, id string) error {
	b.mu.Lock()
	cn := b.connLocked(id)
	if cn == nil {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownBroker, id)
	}
	ch := cn.connCh
	b.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return fmt.Errorf("mqttbridge: broker %q: %w", id, ctx.Err())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case cn.removed:
		return fmt.Errorf("%w: %q (removed)", ErrUnknownBroker, id)
	}
	return nil
}

package mqttbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/xiot/xiot/concentrator/payload"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/sensors"
)

// Errors of the bridge, wrapped with context.
var (
	// ErrNotConnected: the broker is away and commands are not queued
	// (mqtt.queue_size is 0).
	ErrNotConnected = errors.New("mqttbridge: not connected to the broker")
	// ErrQueueFull: the broker is away and mqtt.queue_size commands already
	// wait for it.
	ErrQueueFull = errors.New("mqttbridge: command queue full while the broker is away")
	// ErrQueueDeadline: the broker did not come back within
	// mqtt.queue_deadline; the command was not sent.
	ErrQueueDeadline = errors.New("mqttbridge: broker still away at the queue deadline; command not sent")
	// ErrNoEcho: the command was published but the device did not report
	// the new state within mqtt.command_timeout.
	ErrNoEcho = errors.New("mqttbridge: no state echo from the device")
	// ErrUnknownDevice and ErrUnknownField: nothing to command.
	ErrUnknownDevice = errors.New("mqttbridge: unknown device")
	ErrUnknownField  = errors.New("mqttbridge: unknown field")
	// ErrNotWritable: the field has no command topic (or is not $settable).
	ErrNotWritable = errors.New("mqttbridge: field is not writable")
	// ErrValueType: the value's kind does not fit the field.
	ErrValueType = errors.New("mqttbridge: value of the wrong type for the field")
	// ErrClosed: the bridge was closed.
	ErrClosed = errors.New("mqttbridge: closed")
)

// Stats are counters of the bridge since New.
type Stats struct {
	Messages       uint64 // messages received
	Decoded        uint64 // fields decoded
	DecodeErrors   uint64 // payloads a decoder refused
	Oversize       uint64 // payloads above mqtt.max_payload_bytes
	Unmatched      uint64 // messages no mapping used
	DevicesRefused uint64 // messages dropped because mqtt.max_devices was reached
	FieldsRefused  uint64 // fields dropped because a device has too many
	EventsDropped  uint64 // events lost to full subscriber channels
	Connects       uint64 // successful connections (first one included)

	SubscriptionsRefused uint64 // filters the broker refused (ACL)
	Commands             uint64 // commands completed by their echo
	CommandErrors        uint64 // commands that failed
}

// Options are the parts of a bridge that do not come from the
// configuration file.
type Options struct {
	// Logger receives connection changes and (rate-limited) bad payloads;
	// nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// mapping is a compiled topic mapping.
type mapping struct {
	id      string // "config-<n>" for the configuration's, else chosen by AddMapping
	runtime bool   // added with AddMapping
	cfg     config.MQTTMapping
	pat     pattern
	avail   *pattern
	kind    sensors.Kind
	path    payload.Path
}

// Bridge connects to the broker, keeps the device registry and sends
// commands. Create it with New, start it with Start and end it with Close;
// all methods are safe for concurrent use.
type Bridge struct {
	cfg    config.MQTT
	log    *slog.Logger
	now    func() time.Time
	client mqtt.Client
	maps   []*mapping
	homie  string // Homie base topic with a trailing '/', or ""

	mu        sync.Mutex
	devices   map[string]*device
	connected bool
	connCh    chan struct{} // closed while connected
	closed    bool
	subs      map[int]chan Event
	nextSub   int
	waiters   map[waitKey][]*waiter
	queued    int
	stats     Stats
	lastWarn  time.Time
	quiet     int // warnings suppressed since lastWarn
	mapGen    int // counts changes of maps, for onConnect
}

// New checks cfg and prepares a bridge; it reads the password file but
// does not connect (see Start).
func New(cfg config.MQTT, opts Options) (*Bridge, error) {
	if !cfg.Enabled() {
		return nil, errors.New("mqttbridge: no broker configured (mqtt.brokers)")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mqttbridge: %w", err)
	}
	cfg = cfg.WithDefaults()
	b := &Bridge{
		cfg: cfg, log: opts.Logger, now: opts.Now,
		devices: map[string]*device{}, connCh: make(chan struct{}),
		subs: map[int]chan Event{}, waiters: map[waitKey][]*waiter{},
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.now == nil {
		b.now = time.Now
	}
	for i, mc := range cfg.Mappings {
		m, err := compileMapping(mc)
		if err != nil {
			return nil, fmt.Errorf("mqttbridge: mqtt.mappings[%d]: %w", i, err)
		}
		m.id = ConfigMappingID(i)
		b.maps = append(b.maps, m)
	}
	if cfg.Homie.Enabled {
		b.homie = strings.TrimSuffix(cfg.Homie.Base, "/") + "/"
	}

	o := mqtt.NewClientOptions()
	useTLS := false
	for _, u := range cfg.Brokers {
		o.AddBroker(u)
		if pu, err := url.Parse(u); err == nil && slices.Contains([]string{"ssl", "tls", "mqtts", "tcps", "wss"}, pu.Scheme) {
			useTLS = true
		}
	}
	if useTLS || cfg.CAFile != "" {
		tc, err := cfg.TLSConfig()
		if err != nil {
			return nil, fmt.Errorf("mqttbridge: %w", err)
		}
		o.SetTLSConfig(tc)
	}
	id := cfg.ClientID
	if id == "" {
		host, _ := os.Hostname()
		id = "xiot-" + host
	}
	o.SetClientID(id)
	if cfg.Username != "" {
		pw, err := cfg.Password()
		if err != nil {
			return nil, fmt.Errorf("mqttbridge: %w", err)
		}
		o.SetUsername(cfg.Username)
		o.SetPassword(pw)
	}
	o.SetCleanSession(cfg.CleanSession)
	o.SetKeepAlive(cfg.Keepalive)
	o.SetConnectTimeout(cfg.ConnectTimeout)
	o.SetMaxReconnectInterval(cfg.ReconnectMax)
	o.SetConnectRetryInterval(min(time.Second, cfg.ReconnectMax))
	o.SetAutoReconnect(true)
	o.SetConnectRetry(true)
	o.SetResumeSubs(false) // Start's OnConnect resubscribes every time
	o.SetOrderMatters(true)
	o.SetDefaultPublishHandler(b.onMessage)
	o.SetOnConnectHandler(b.onConnect)
	o.SetConnectionLostHandler(b.onConnectionLost)
	b.client = mqtt.NewClient(o)
	return b, nil
}

// compileMapping prepares one mapping of the (defaulted) configuration.
func compileMapping(mc config.MQTTMapping) (*mapping, error) {
	pat, err := compilePattern(mc.Topic)
	if err != nil {
		return nil, err
	}
	m := &mapping{cfg: mc, pat: pat}
	if mc.AvailabilityTopic != "" {
		ap, err := compilePattern(mc.AvailabilityTopic)
		if err != nil {
			return nil, err
		}
		m.avail = &ap
	}
	if mc.Type != "" {
		if m.kind, err = sensors.ParseKind(mc.Type); err != nil {
			return nil, err
		}
	}
	if m.path, err = payload.ParsePath(mc.Path); err != nil {
		return nil, err
	}
	return m, nil
}

// Start connects to the broker and subscribes, waiting until the first
// connection is up or ctx ends. On a ctx error the bridge keeps trying in
// the background (as it does after every connection loss) until Close.
func (b *Bridge) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	ch := b.connCh
	b.mu.Unlock()
	tok := b.client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqttbridge: connect to %s: %w", strings.Join(b.cfg.Brokers, ", "), err)
		}
	case <-ctx.Done():
		return fmt.Errorf("mqttbridge: connect to %s: %w (still retrying)", strings.Join(b.cfg.Brokers, ", "), ctx.Err())
	}
	// Connected; wait for the subscriptions of onConnect.
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqttbridge: subscribe: %w (still retrying)", ctx.Err())
	}
}

// Close disconnects, fails waiting commands with ErrClosed and closes
// every subscription channel.
func (b *Bridge) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for k, ws := range b.waiters {
		for _, w := range ws {
			w.finish(ErrClosed)
		}
		delete(b.waiters, k)
	}
	b.mu.Unlock()
	b.client.Disconnect(250)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.setConnectedLocked(false)
	close(b.connCh) // wakes queued commands, which then see closed
	for id, ch := range b.subs {
		delete(b.subs, id)
		close(ch)
	}
	return nil
}

// Connected reports whether the bridge is connected and subscribed.
func (b *Bridge) Connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.connected
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// filtersLocked returns the subscription filters: every mapping's topic
// and availability topic, and Homie's base; b.mu is held.
func (b *Bridge) filtersLocked() map[string]byte {
	qos := byte(b.cfg.QoS)
	f := map[string]byte{}
	for _, m := range b.maps {
		f[m.pat.filter] = qos
		if m.avail != nil {
			f[m.avail.filter] = qos
		}
	}
	if b.homie != "" {
		f[b.homie+"#"] = qos
	}
	return f
}

// onConnect resubscribes after every (re)connection, then marks the bridge
// connected. Resubscribing makes the broker send the retained messages
// again, so the registry catches up with what changed while it was away.
func (b *Bridge) onConnect(c mqtt.Client) {
	b.mu.Lock()
	gen := b.mapGen
	filters := b.filtersLocked()
	b.mu.Unlock()
	for attempt := 1; ; attempt++ {
		tok := c.SubscribeMultiple(filters, b.onMessage)
		ok := tok.WaitTimeout(b.cfg.ConnectTimeout)
		if ok && tok.Error() == nil {
			b.checkGranted(tok)
			break
		}
		err := tok.Error()
		if err == nil {
			err = errors.New("no SUBACK in time")
		}
		b.log.Error("mqtt subscribe failed", "attempt", attempt, "err", err)
		// Retry while this connection lasts; a new connection calls
		// onConnect again.
		if b.isClosed() || !c.IsConnectionOpen() {
			return
		}
		time.Sleep(min(time.Duration(attempt)*100*time.Millisecond, b.cfg.ReconnectMax))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if b.mapGen != gen {
		// Mappings changed while subscribing (AddMapping saw no
		// connection): subscribe again with the current filters.
		b.mu.Unlock()
		b.onConnect(c)
		b.mu.Lock()
		return
	}
	b.stats.Connects++
	b.setConnectedLocked(true)
	b.log.Info("mqtt connected and subscribed", "brokers", b.cfg.Brokers, "filters", len(filters))
}

// checkGranted logs and counts the filters the broker refused (SUBACK
// return code 0x80, e.g. denied by an ACL): their topics will never arrive.
func (b *Bridge) checkGranted(tok mqtt.Token) {
	st, ok := tok.(*mqtt.SubscribeToken)
	if !ok {
		return
	}
	var refused []string
	for f, code := range st.Result() {
		if code == 0x80 {
			refused = append(refused, f)
		}
	}
	if len(refused) == 0 {
		return
	}
	slices.Sort(refused)
	b.log.Error("mqtt broker refused subscriptions; their topics will not be bridged", "filters", refused)
	b.mu.Lock()
	b.stats.SubscriptionsRefused += uint64(len(refused))
	b.mu.Unlock()
}

// isClosed reports whether Close was called.
func (b *Bridge) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// onConnectionLost marks every device unavailable until the broker is back.
func (b *Bridge) onConnectionLost(_ mqtt.Client, err error) {
	b.log.Warn("mqtt connection lost; reconnecting", "err", err)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.setConnectedLocked(false)
}

// setConnectedLocked switches the connection state and every device's
// effective availability; b.mu is held.
func (b *Bridge) setConnectedLocked(up bool) {
	if up == b.connected {
		return
	}
	b.connected = up
	if up {
		close(b.connCh)
	} else {
		b.connCh = make(chan struct{})
	}
	ids := make([]string, 0, len(b.devices))
	for id := range b.devices {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		b.refreshLocked(b.devices[id])
	}
}

// warnLocked logs a bad message with its topic, at most once a second
// (with the number suppressed since); b.mu is held.
func (b *Bridge) warnLocked(msg, topic string, err error) {
	now := b.now()
	if now.Sub(b.lastWarn) < time.Second {
		b.quiet++
		return
	}
	b.log.Warn(msg, "topic", topic, "err", err, "suppressed", b.quiet)
	b.lastWarn, b.quiet = now, 0
}

// onMessage handles every message: Homie topics, availability topics and
// mapped topics. It runs on paho's delivery goroutine and never blocks.
func (b *Bridge) onMessage(_ mqtt.Client, msg mqtt.Message) {
	topic, p := msg.Topic(), msg.Payload()
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.stats.Messages++
	if len(p) > b.cfg.MaxPayloadBytes {
		b.stats.Oversize++
		b.warnLocked("mqtt payload too large; dropped", topic, fmt.Errorf("%d bytes (limit %d)", len(p), b.cfg.MaxPayloadBytes))
		return
	}
	used := false
	if b.homie != "" && strings.HasPrefix(topic, b.homie) {
		b.homieLocked(strings.TrimPrefix(topic, b.homie), p)
		used = true
	}
	for _, m := range b.maps {
		if m.avail != nil {
			if dev, _, ok := m.avail.match(topic); ok {
				used = true
				b.availabilityLocked(m, topic, dev, p)
			}
		}
		dev, field, ok := m.pat.match(topic)
		if !ok {
			continue
		}
		used = true
		if m.cfg.Device != "" {
			dev = m.cfg.Device
		}
		b.decodeLocked(m, topic, dev, field, p, now)
	}
	if !used {
		b.stats.Unmatched++
	}
}

// availabilityLocked applies an availability (LWT) message; b.mu is held.
func (b *Bridge) availabilityLocked(m *mapping, topic, dev string, p []byte) {
	if m.cfg.Device != "" {
		dev = m.cfg.Device
	}
	s := availabilityText(p)
	var a Availability
	switch {
	case strings.EqualFold(s, m.cfg.PayloadAvailable):
		a = AvailabilityOnline
	case strings.EqualFold(s, m.cfg.PayloadNotAvailable):
		a = AvailabilityOffline
	case s == "":
		// A retained availability message was cleared.
		a = AvailabilityUnknown
	default:
		b.stats.DecodeErrors++
		b.warnLocked("mqtt availability payload not understood", topic,
			fmt.Errorf("%q is neither %q nor %q", clip(s), m.cfg.PayloadAvailable, m.cfg.PayloadNotAvailable))
		return
	}
	d := b.deviceLocked(dev)
	if d == nil {
		return
	}
	b.setReportedLocked(d, a)
}

// availabilityText returns the availability word of a payload: the text
// itself, or the "state" member of a JSON object (zigbee2mqtt sends
// {"state":"online"}).
func availabilityText(p []byte) string {
	s := strings.TrimSpace(string(p))
	if strings.HasPrefix(s, "{") {
		var v struct {
			State string `json:"state"`
		}
		if err := json.Unmarshal(p, &v); err == nil && v.State != "" {
			return v.State
		}
	}
	return s
}

// decodeLocked decodes a mapped payload into fields; b.mu is held. An
// empty payload (a retained message being cleared) carries no value and is
// skipped.
func (b *Bridge) decodeLocked(m *mapping, topic, dev, field string, p []byte, now time.Time) {
	if len(p) == 0 {
		return
	}
	var fields []sensors.Field
	var err error
	name := m.cfg.Field
	if name == "" {
		name = field
	}
	if name == "" && m.cfg.Decoder == config.DecoderJSON && m.path.String() != "" {
		name = m.path.String()
	}
	if name == "" {
		name = lastLevel(topic)
	}
	limit := b.cfg.MaxPayloadBytes
	switch m.cfg.Decoder {
	case config.DecoderJSON:
		var f sensors.Field
		f, err = payload.JSON(p, m.path, m.kind, limit)
		f.Name = name
		fields = []sensors.Field{f}
	case config.DecoderSenMLJSON, config.DecoderSenMLCBOR:
		var recs []payload.Record
		if m.cfg.Decoder == config.DecoderSenMLJSON {
			recs, err = payload.SenMLJSON(p, now, limit)
		} else {
			recs, err = payload.SenMLCBOR(p, now, limit)
		}
		for _, r := range recs {
			f := r.Field
			f.Name = r.LocalName()
			fields = append(fields, f)
		}
	default:
		var f sensors.Field
		f, err = payload.Plain(p, m.kind, limit)
		f.Name = name
		fields = []sensors.Field{f}
	}
	if err != nil {
		b.stats.DecodeErrors++
		b.warnLocked("mqtt payload not decoded", topic, err)
		return
	}
	d := b.deviceLocked(dev)
	if d == nil {
		return
	}
	for _, f := range fields {
		f.Node = m.cfg.Node
		if f.Timestamp.IsZero() {
			f.Timestamp = now
		}
		f.Types = sensors.Momentary
		if m.cfg.Unit != "" && f.Value.Kind() == sensors.KindNumeric {
			f.Unit = m.cfg.Unit
		}
		if f.Value.Kind() == sensors.KindEnum && f.Value.DataType() == "" {
			s, _ := f.Value.Text()
			f.Value = sensors.Enum(s, f.Name)
		}
		f.Writable = m.cfg.CommandTopic != ""
		b.stats.Decoded++
		b.setFieldLocked(d, f, command{mapping: m}, true)
	}
}

// clip shortens s for log messages.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

package mqttbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	// DeviceConflicts counts messages about a device that belongs to
	// another broker connection (the first broker that named a device
	// id keeps it).
	DeviceConflicts uint64
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
	broker  string // cfg.Broker: the connection it subscribes on
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
	cfg  config.MQTT
	log  *slog.Logger
	now  func() time.Time
	main *conn // the configuration's broker

	mu       sync.Mutex
	conns    []*conn // main first, then AddBroker's in order
	maps     []*mapping
	devices  map[string]*device
	started  bool
	closed   bool
	subs     map[int]chan Event
	nextSub  int
	waiters  map[waitKey][]*waiter
	queued   int
	stats    Stats
	lastWarn time.Time
	quiet    int // warnings suppressed since lastWarn
	mapGen   int // counts changes of maps, for onConnect
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
		devices: map[string]*device{},
		subs:    map[int]chan Event{}, waiters: map[waitKey][]*waiter{},
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
	id := cfg.ClientID
	if id == "" {
		host, _ := os.Hostname()
		id = "xiot-" + host
	}
	var pw string
	if cfg.Username != "" {
		var err error
		if pw, err = cfg.Password(); err != nil {
			return nil, fmt.Errorf("mqttbridge: %w", err)
		}
	}
	cn, err := b.newConn(MainBrokerID, connSettings{
		urls: cfg.Brokers, clientID: id, username: cfg.Username, password: pw,
		tls: cfg.TLSConfig, clean: cfg.CleanSession, homie: cfg.Homie.Enabled, homieBase: cfg.Homie.Base,
	})
	if err != nil {
		return nil, err
	}
	b.main = cn
	b.conns = []*conn{cn}
	return b, nil
}

// compileMapping prepares one mapping of the (defaulted) configuration.
func compileMapping(mc config.MQTTMapping) (*mapping, error) {
	pat, err := compilePattern(mc.Topic)
	if err != nil {
		return nil, err
	}
	m := &mapping{cfg: mc, pat: pat, broker: mc.Broker}
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
//
// Brokers added with AddBroker before Start connect at Start, in the
// background: Start waits only for the configuration's broker.
func (b *Bridge) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if b.started {
		b.mu.Unlock()
		return errors.New("mqttbridge: started already")
	}
	b.started = true
	cn := b.main
	ch := cn.connCh
	others := slices.Clone(b.conns[1:])
	b.mu.Unlock()
	for _, o := range others {
		o.client.Connect() // retries in the background; onConnect subscribes
	}
	tok := cn.client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqttbridge: connect to %s: %w", strings.Join(cn.urls, ", "), err)
		}
	case <-ctx.Done():
		return fmt.Errorf("mqttbridge: connect to %s: %w (still retrying)", strings.Join(cn.urls, ", "), ctx.Err())
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
	conns := slices.Clone(b.conns)
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, cn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cn.client.Disconnect(250)
		}()
	}
	wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, cn := range conns {
		b.setConnectedLocked(cn, false)
		close(cn.connCh) // wakes queued commands, which then see closed
	}
	for id, ch := range b.subs {
		delete(b.subs, id)
		close(ch)
	}
	return nil
}

// Connected reports whether the bridge is connected and subscribed to the
// configuration's broker (see Brokers for the others).
func (b *Bridge) Connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.main.connected
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// filtersLocked returns the subscription filters of a connection: the
// topic and availability topic of every mapping on it, and its Homie
// base; b.mu is held.
func (b *Bridge) filtersLocked(cn *conn) map[string]byte {
	qos := byte(b.cfg.QoS)
	f := map[string]byte{}
	for _, m := range b.maps {
		if m.broker != cn.id {
			continue
		}
		f[m.pat.filter] = qos
		if m.avail != nil {
			f[m.avail.filter] = qos
		}
	}
	if cn.homie != "" {
		f[cn.homie+"#"] = qos
	}
	return f
}

// onConnect resubscribes after every (re)connection, then marks the bridge
// connected. Resubscribing makes the broker send the retained messages
// again, so the registry catches up with what changed while it was away.
func (b *Bridge) onConnect(cn *conn, c mqtt.Client) {
	b.mu.Lock()
	gen := b.mapGen
	filters := b.filtersLocked(cn)
	b.mu.Unlock()
	if len(filters) == 0 {
		// A broker node without mappings yet: nothing to subscribe to.
		b.markConnected(cn, c, gen, 0)
		return
	}
	for attempt := 1; ; attempt++ {
		tok := c.SubscribeMultiple(filters, cn.onMessage)
		ok := tok.WaitTimeout(b.cfg.ConnectTimeout)
		if ok && tok.Error() == nil {
			b.checkGranted(tok)
			break
		}
		err := tok.Error()
		if err == nil {
			err = errors.New("no SUBACK in time")
		}
		b.log.Error("mqtt subscribe failed", "broker", cn.name(), "attempt", attempt, "err", err)
		// Retry while this connection lasts; a new connection calls
		// onConnect again.
		if b.isClosed() || !c.IsConnectionOpen() {
			return
		}
		time.Sleep(min(time.Duration(attempt)*100*time.Millisecond, b.cfg.ReconnectMax))
	}
	b.markConnected(cn, c, gen, len(filters))
}

// markConnected ends onConnect: it marks cn connected, or subscribes
// again if the mappings changed meanwhile (AddMapping saw no connection).
func (b *Bridge) markConnected(cn *conn, c mqtt.Client, gen, filters int) {
	b.mu.Lock()
	if b.closed || cn.removed || cn.client != c {
		b.mu.Unlock()
		return
	}
	if b.mapGen != gen {
		b.mu.Unlock()
		b.onConnect(cn, c)
		return
	}
	defer b.mu.Unlock()
	b.stats.Connects++
	b.setConnectedLocked(cn, true)
	b.log.Info("mqtt connected and subscribed", "broker", cn.name(), "urls", cn.urls, "filters", filters)
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

// onConnectionLost marks the connection's devices unavailable until the
// broker is back.
func (b *Bridge) onConnectionLost(cn *conn, c mqtt.Client, err error) {
	b.log.Warn("mqtt connection lost; reconnecting", "broker", cn.name(), "err", err)
	b.mu.Lock()
	defer b.mu.Unlock()
	if cn.client != c {
		return // a client replaced by UpdateBroker
	}
	b.setConnectedLocked(cn, false)
}

// setConnectedLocked switches a connection's state and the effective
// availability of its devices; b.mu is held.
func (b *Bridge) setConnectedLocked(cn *conn, up bool) {
	if up == cn.connected {
		return
	}
	cn.connected = up
	if up {
		close(cn.connCh)
	} else {
		cn.connCh = make(chan struct{})
	}
	b.emitLocked(Event{Kind: EventBroker, Broker: cn.id, Available: up})
	ids := make([]string, 0, len(b.devices))
	for id, d := range b.devices {
		if d.conn == cn {
			ids = append(ids, id)
		}
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

// onMessage handles every message of a connection: Homie topics,
// availability topics and mapped topics. It runs on paho's delivery
// goroutine and never blocks.
func (b *Bridge) onMessage(cn *conn, c mqtt.Client, msg mqtt.Message) {
	topic, p := msg.Topic(), msg.Payload()
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || cn.removed || cn.client != c {
		return
	}
	b.stats.Messages++
	if len(p) > b.cfg.MaxPayloadBytes {
		b.stats.Oversize++
		b.warnLocked("mqtt payload too large; dropped", topic, fmt.Errorf("%d bytes (limit %d)", len(p), b.cfg.MaxPayloadBytes))
		return
	}
	used := false
	if cn.homie != "" && strings.HasPrefix(topic, cn.homie) {
		b.homieLocked(cn, strings.TrimPrefix(topic, cn.homie), p)
		used = true
	}
	for _, m := range b.maps {
		if m.broker != cn.id {
			continue
		}
		if m.avail != nil {
			if dev, _, ok := m.avail.match(topic); ok {
				used = true
				b.availabilityLocked(cn, m, topic, dev, p)
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
		b.decodeLocked(cn, m, topic, dev, field, p, now)
	}
	if !used {
		b.stats.Unmatched++
	}
}

// availabilityLocked applies an availability (LWT) message; b.mu is held.
func (b *Bridge) availabilityLocked(cn *conn, m *mapping, topic, dev string, p []byte) {
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
	d := b.deviceLocked(cn, dev, topic)
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
func (b *Bridge) decodeLocked(cn *conn, m *mapping, topic, dev, field string, p []byte, now time.Time) {
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
	d := b.deviceLocked(cn, dev, topic)
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

package mqttbridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/xiot/xiot/internal/config"
)

// Topic mappings added and removed at run time, beside those of the
// configuration: the bridge subscribes to a new mapping's topics on the
// live connection (and on every reconnection) and unsubscribes from the
// topics no mapping uses any more when one is removed. Devices a removed
// mapping created stay in the registry with their last values.

// MaxRuntimeMappings bounds the mappings AddMapping accepts.
const MaxRuntimeMappings = 256

// Errors of the mapping functions, wrapped with context.
var (
	// ErrUnknownMapping: no mapping has that id.
	ErrUnknownMapping = errors.New("mqttbridge: unknown mapping")
	// ErrMappingExists: a mapping already has that id.
	ErrMappingExists = errors.New("mqttbridge: mapping id in use")
	// ErrConfigMapping: mappings of the configuration file cannot be
	// changed or removed at run time; edit the file.
	ErrConfigMapping = errors.New("mqttbridge: mapping comes from the configuration file")
	// ErrTooManyMappings: MaxRuntimeMappings mappings were added already.
	ErrTooManyMappings = errors.New("mqttbridge: too many run-time mappings")
)

// MappingError is a mapping AddMapping or UpdateMapping refused: Problems
// maps the mapping's configuration keys (topic, decoder, …; "id" for the
// id) to what is wrong with them.
type MappingError struct {
	Problems map[string]string
}

// Error lists the problems.
func (e *MappingError) Error() string {
	return "mqttbridge: invalid mapping: " + listProblems(e.Problems)
}

// listProblems writes key: problem pairs sorted by key.
func listProblems(probs map[string]string) string {
	keys := make([]string, 0, len(probs))
	for k := range probs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + probs[k]
	}
	return strings.Join(parts, "; ")
}

// Mapping is a topic mapping as the bridge holds it.
type Mapping struct {
	// ID is "config-<n>" (1-based) for the n-th mapping of the
	// configuration, else the id given to AddMapping.
	ID string
	// Config is the mapping with its defaults applied.
	Config config.MQTTMapping
	// Runtime tells a mapping added with AddMapping.
	Runtime bool
}

// ConfigMappingID is the id of the i-th (0-based) mapping of the
// configuration.
func ConfigMappingID(i int) string { return "config-" + strconv.Itoa(i+1) }

// Mappings returns every mapping, the configuration's first.
func (b *Bridge) Mappings() []Mapping {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Mapping, len(b.maps))
	for i, m := range b.maps {
		out[i] = Mapping{ID: m.id, Config: m.cfg, Runtime: m.runtime}
	}
	return out
}

// Mapping returns the mapping with that id.
func (b *Bridge) Mapping(id string) (Mapping, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := b.mappingLocked(id); i >= 0 {
		m := b.maps[i]
		return Mapping{ID: m.id, Config: m.cfg, Runtime: m.runtime}, true
	}
	return Mapping{}, false
}

func (b *Bridge) mappingLocked(id string) int {
	for i, m := range b.maps {
		if m.id == id {
			return i
		}
	}
	return -1
}

// CheckMappingID returns why id cannot name a run-time mapping, or "".
func CheckMappingID(id string) string {
	switch {
	case id == "":
		return "must not be empty"
	case len(id) > 64:
		return "must be at most 64 bytes"
	case strings.HasPrefix(id, "config-"):
		return `must not start with "config-" (the configuration's mappings)`
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "must not contain control characters"
	}
	return ""
}

// compileRuntime checks and compiles a run-time mapping.
func (b *Bridge) compileRuntime(id string, mc config.MQTTMapping) (*mapping, error) {
	probs := map[string]string{}
	if why := CheckMappingID(id); why != "" {
		probs["id"] = why
	}
	// Validate as the configuration would (which refuses a broker key),
	// then map the keys back.
	broker := mc.Broker
	mc.Broker = ""
	cfg := config.MQTT{Brokers: b.cfg.Brokers, Mappings: []config.MQTTMapping{mc}}
	if err := cfg.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			key, msg, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			if k, found := strings.CutPrefix(key, "mqtt.mappings[0]."); found {
				probs[k] = msg
			} else {
				probs[key] = msg
			}
		}
	}
	if broker != "" {
		b.mu.Lock()
		known := b.connLocked(broker) != nil
		b.mu.Unlock()
		if !known {
			probs["broker"] = fmt.Sprintf("no broker node %q", broker)
		}
	}
	if len(probs) > 0 {
		return nil, &MappingError{Problems: probs}
	}
	mc = cfg.WithDefaults().Mappings[0]
	mc.Broker = broker
	m, err := compileMapping(mc)
	if err != nil {
		return nil, &MappingError{Problems: map[string]string{"topic": err.Error()}}
	}
	m.id, m.runtime = id, true
	return m, nil
}

// AddMapping adds a mapping under id and subscribes to its topics when
// connected (else at the next connection). It returns a *MappingError for
// an invalid mapping or id, ErrMappingExists, or ErrTooManyMappings; a
// failed subscription is only logged, as onConnect's are, and retried at
// the next connection.
func (b *Bridge) AddMapping(ctx context.Context, id string, mc config.MQTTMapping) error {
	m, err := b.compileRuntime(id, mc)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if b.mappingLocked(id) >= 0 {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrMappingExists, id)
	}
	n := 0
	for _, x := range b.maps {
		if x.runtime {
			n++
		}
	}
	if n >= MaxRuntimeMappings {
		b.mu.Unlock()
		return fmt.Errorf("%w (limit %d)", ErrTooManyMappings, MaxRuntimeMappings)
	}
	cn := b.connLocked(m.broker)
	if cn == nil {
		b.mu.Unlock()
		return &MappingError{Problems: map[string]string{"broker": fmt.Sprintf("no broker node %q", m.broker)}}
	}
	b.maps = append(b.maps, m)
	b.mapGen++
	live := cn.connected
	b.mu.Unlock()
	b.log.Info("mqtt mapping added", "id", id, "topic", m.cfg.Topic, "broker", cn.name())
	if live {
		b.subscribe(ctx, cn, m)
	}
	return nil
}

// UpdateMapping replaces the run-time mapping id. It returns
// ErrUnknownMapping, ErrConfigMapping or a *MappingError.
func (b *Bridge) UpdateMapping(ctx context.Context, id string, mc config.MQTTMapping) error {
	m, err := b.compileRuntime(id, mc)
	if err != nil {
		return err
	}
	b.mu.Lock()
	i, err := b.runtimeMappingLocked(id)
	if err != nil {
		b.mu.Unlock()
		return err
	}
	cn, oldCn := b.connLocked(m.broker), b.connLocked(b.maps[i].broker)
	if cn == nil {
		b.mu.Unlock()
		return &MappingError{Problems: map[string]string{"broker": fmt.Sprintf("no broker node %q", m.broker)}}
	}
	old := b.maps[i]
	b.maps[i] = m
	b.mapGen++
	live, oldLive := cn.connected, oldCn != nil && oldCn.connected
	var stale []string
	if oldCn != nil {
		stale = b.staleLocked(oldCn, old)
	}
	b.mu.Unlock()
	b.log.Info("mqtt mapping changed", "id", id, "topic", m.cfg.Topic, "broker", cn.name())
	if oldLive {
		b.unsubscribe(ctx, oldCn, stale)
	}
	if live {
		b.subscribe(ctx, cn, m)
	}
	return nil
}

// runtimeMappingLocked returns the index of the run-time mapping id, or
// ErrUnknownMapping or ErrConfigMapping; b.mu is held.
func (b *Bridge) runtimeMappingLocked(id string) (int, error) {
	i := b.mappingLocked(id)
	switch {
	case i < 0:
		return -1, fmt.Errorf("%w: %q", ErrUnknownMapping, id)
	case !b.maps[i].runtime:
		return -1, fmt.Errorf("%w: %q", ErrConfigMapping, id)
	}
	return i, nil
}

// RemoveMapping removes the run-time mapping id and unsubscribes from
// the topics no other mapping uses. It returns ErrUnknownMapping or
// ErrConfigMapping.
func (b *Bridge) RemoveMapping(ctx context.Context, id string) error {
	b.mu.Lock()
	i, err := b.runtimeMappingLocked(id)
	if err != nil {
		b.mu.Unlock()
		return err
	}
	old := b.maps[i]
	b.maps = append(b.maps[:i:i], b.maps[i+1:]...)
	b.mapGen++
	cn := b.connLocked(old.broker)
	var stale []string
	live := cn != nil && cn.connected
	if cn != nil {
		stale = b.staleLocked(cn, old)
	}
	b.mu.Unlock()
	b.log.Info("mqtt mapping removed", "id", id, "topic", old.cfg.Topic)
	if live {
		b.unsubscribe(ctx, cn, stale)
	}
	return nil
}

// staleLocked returns the filters of m that the current mappings on cn do
// not use; b.mu is held.
func (b *Bridge) staleLocked(cn *conn, m *mapping) []string {
	cur := b.filtersLocked(cn)
	var out []string
	for _, f := range mappingFilters(m) {
		if _, ok := cur[f]; !ok {
			out = append(out, f)
		}
	}
	return out
}

// mappingFilters lists the filters of one mapping.
func mappingFilters(m *mapping) []string {
	f := []string{m.pat.filter}
	if m.avail != nil && m.avail.filter != m.pat.filter {
		f = append(f, m.avail.filter)
	}
	return f
}

// subscribe subscribes to m's filters on the live connection cn, waiting
// for the SUBACK at most until ctx ends or the connect timeout.
func (b *Bridge) subscribe(ctx context.Context, cn *conn, m *mapping) {
	qos := byte(b.cfg.QoS)
	filters := map[string]byte{}
	for _, f := range mappingFilters(m) {
		filters[f] = qos
	}
	tok := b.clientOf(cn).SubscribeMultiple(filters, cn.onMessage)
	if err := b.wait(ctx, tok); err != nil {
		b.log.Error("mqtt subscribe for a new mapping failed; retried at the next connection", "id", m.id, "err", err)
		return
	}
	b.checkGranted(tok)
}

// unsubscribe drops filters on the live connection cn.
func (b *Bridge) unsubscribe(ctx context.Context, cn *conn, filters []string) {
	if len(filters) == 0 {
		return
	}
	if err := b.wait(ctx, b.clientOf(cn).Unsubscribe(filters...)); err != nil {
		b.log.Warn("mqtt unsubscribe failed", "filters", filters, "err", err)
	}
}

// clientOf returns the paho client of cn (UpdateBroker may replace it).
func (b *Bridge) clientOf(cn *conn) mqtt.Client {
	b.mu.Lock()
	defer b.mu.Unlock()
	return cn.client
}

// wait waits for tok within ctx and the connect timeout.
func (b *Bridge) wait(ctx context.Context, tok mqtt.Token) error {
	t := b.cfg.ConnectTimeout
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(t):
		return fmt.Errorf("no answer from the broker within %v", t)
	}
}

// ResubscribeMapping subscribes to the mapping's topics again, so that
// the broker sends their retained messages anew ("" resubscribes every
// mapping). It returns ErrUnknownMapping, ErrNotConnected, or the
// broker's refusal.
//
// Mappings on several brokers are resubscribed broker by broker; a broker
// that is away gives ErrNotConnected (the others are still done).
func (b *Bridge) ResubscribeMapping(ctx context.Context, id string) error {
	qos := byte(b.cfg.QoS)
	type sub struct {
		cn      *conn
		live    bool
		filters map[string]byte
	}
	var subs []*sub
	found := false
	b.mu.Lock()
	for _, cn := range b.conns {
		s := &sub{cn: cn, live: cn.connected, filters: map[string]byte{}}
		for _, m := range b.maps {
			if m.broker == cn.id && (id == "" || m.id == id) {
				found = true
				for _, f := range mappingFilters(m) {
					s.filters[f] = qos
				}
			}
		}
		if len(s.filters) > 0 {
			subs = append(subs, s)
		}
	}
	b.mu.Unlock()
	if id != "" && !found {
		return fmt.Errorf("%w: %q", ErrUnknownMapping, id)
	}
	var errs []error
	for _, s := range subs {
		if !s.live {
			errs = append(errs, fmt.Errorf("broker %s: %w", s.cn.name(), ErrNotConnected))
			continue
		}
		tok := b.clientOf(s.cn).SubscribeMultiple(s.filters, s.cn.onMessage)
		if err := b.wait(ctx, tok); err != nil {
			errs = append(errs, fmt.Errorf("mqttbridge: resubscribe on %s: %w", s.cn.name(), err))
			continue
		}
		b.checkGranted(tok)
	}
	return errors.Join(errs...)
}

// PublishSample publishes payload on the mapping's topic with its
// {device}, {node} and {field} levels filled in, as the device would: to
// try a mapping out. It refuses mappings whose topic has + or #
// wildcards, and values that are empty where the topic captures them or
// that hold /, + or #.
func (b *Bridge) PublishSample(ctx context.Context, id, device, field string, payload []byte, retain bool) error {
	m, ok := b.Mapping(id)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownMapping, id)
	}
	levels := strings.Split(m.Config.Topic, "/")
	for i, l := range levels {
		v := ""
		switch l {
		case "+", "#":
			return fmt.Errorf("mqttbridge: mapping %q: topic %q has wildcards; publish to a topic of your own", id, m.Config.Topic)
		case "{device}":
			v = device
		case "{field}":
			v = field
		case "{node}":
			v = m.Config.Node
		default:
			continue
		}
		if v == "" || strings.ContainsAny(v, "/+#") {
			return fmt.Errorf("mqttbridge: mapping %q: %s %q: must not be empty nor hold /, + or #", id, strings.Trim(l, "{}"), v)
		}
		levels[i] = v
	}
	b.mu.Lock()
	cn := b.connLocked(m.Config.Broker)
	live := cn != nil && cn.connected
	b.mu.Unlock()
	if !live {
		return ErrNotConnected
	}
	topic := strings.Join(levels, "/")
	if err := b.wait(ctx, b.clientOf(cn).Publish(topic, byte(b.cfg.QoS), retain, payload)); err != nil {
		return fmt.Errorf("mqttbridge: publish to %s: %w", topic, err)
	}
	return nil
}

// CheckMapping returns the *MappingError AddMapping or UpdateMapping would
// give for id and mc, or nil; it changes nothing.
func (b *Bridge) CheckMapping(id string, mc config.MQTTMapping) error {
	_, err := b.compileRuntime(id, mc)
	return err
}

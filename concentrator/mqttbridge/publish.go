package mqttbridge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/xiot/xiot/concentrator/payload"
	"github.com/xiot/xiot/sensors"
)

// waitKey identifies the field a command waits on.
type waitKey struct {
	device string
	field  fieldKey
}

// waiter is one command waiting for its state echo.
type waiter struct {
	want sensors.Value
	last sensors.Value // last value seen for the field since the command
	done chan error    // buffered; receives exactly one result
}

// finish delivers the result once.
func (w *waiter) finish(err error) {
	select {
	case w.done <- err:
	default:
	}
}

// echoLocked completes the commands waiting for a field whose new value
// matches; b.mu is held.
func (b *Bridge) echoLocked(dev string, k fieldKey, v sensors.Value) {
	key := waitKey{dev, k}
	ws := b.waiters[key]
	if len(ws) == 0 {
		return
	}
	kept := ws[:0]
	for _, w := range ws {
		w.last = v
		if sameValue(w.want, v) {
			w.finish(nil)
			continue
		}
		kept = append(kept, w)
	}
	if len(kept) == 0 {
		delete(b.waiters, key)
	} else {
		b.waiters[key] = kept
	}
}

// sameValue compares a command's value with an echo: numbers by value
// whatever their kind, enums and strings by text, others with Equal.
func sameValue(want, got sensors.Value) bool {
	if a, ok := want.Float(); ok {
		if b, ok := got.Float(); ok {
			return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
		}
		return false
	}
	if a, ok := want.Text(); ok {
		b, ok := got.Text()
		return ok && a == b
	}
	return want.Equal(got)
}

// Publish sets a writable field of a device: it publishes the command (the
// mapping's command_topic with its templated payload, or the Homie
// property's …/set topic), then waits until the device reports the new
// value on the field's state topic. It returns nil only after that echo;
// otherwise an error wrapping ErrNoEcho (timeout: mqtt.command_timeout, or
// ctx's deadline if sooner), ErrUnknownDevice, ErrUnknownField,
// ErrNotWritable, ErrValueType, ErrClosed, or, while the broker is away,
// ErrNotConnected (queue_size 0), ErrQueueFull or ErrQueueDeadline. No
// command is dropped silently: every one ends in nil or an error.
//
// node is the field's node ("" for the device itself; the Homie node id
// for Homie devices) and field its name.
func (b *Bridge) Publish(ctx context.Context, dev, node, field string, v sensors.Value) (err error) {
	defer func() {
		b.mu.Lock()
		if err != nil {
			b.stats.CommandErrors++
		} else {
			b.stats.Commands++
		}
		b.mu.Unlock()
	}()
	cn, topic, body, err := b.command(dev, node, field, v)
	if err != nil {
		return err
	}
	if err := b.awaitBroker(ctx, cn); err != nil {
		return fmt.Errorf("mqttbridge: set %s %s/%s: %w", dev, node, field, err)
	}

	// Wait for the echo from before the publish, so a fast device cannot
	// answer before we listen.
	key := waitKey{dev, fieldKey{node, field}}
	w := &waiter{want: v, done: make(chan error, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.waiters[key] = append(b.waiters[key], w)
	b.mu.Unlock()
	defer b.dropWaiter(key, w)

	timer := time.NewTimer(b.cfg.CommandTimeout)
	defer timer.Stop()
	tok := b.clientOf(cn).Publish(topic, byte(b.cfg.QoS), false, body)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqttbridge: set %s %s/%s: publish to %s: %w", dev, node, field, topic, err)
		}
	case <-timer.C:
		return fmt.Errorf("mqttbridge: set %s %s/%s: publish to %s not acknowledged within %v: %w", dev, node, field, topic, b.cfg.CommandTimeout, ErrNoEcho)
	case <-ctx.Done():
		return fmt.Errorf("mqttbridge: set %s %s/%s: %w", dev, node, field, ctx.Err())
	}
	select {
	case err := <-w.done:
		if err != nil {
			return fmt.Errorf("mqttbridge: set %s %s/%s: %w", dev, node, field, err)
		}
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	b.mu.Lock()
	last := w.last
	b.mu.Unlock()
	seen := "no state message"
	if last.Kind() != sensors.KindNone {
		seen = "last state " + last.Format(-1)
	}
	cause := fmt.Errorf("%w within %v after publishing %q to %s (%s)", ErrNoEcho, b.cfg.CommandTimeout, clip(string(body)), topic, seen)
	if ctx.Err() != nil {
		cause = fmt.Errorf("%w: %w", ctx.Err(), cause)
	}
	return fmt.Errorf("mqttbridge: set %s %s/%s: %w", dev, node, field, cause)
}

// dropWaiter removes a waiter that is done or gave up.
func (b *Bridge) dropWaiter(key waitKey, w *waiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ws := b.waiters[key]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(b.waiters, key)
	} else {
		b.waiters[key] = ws
	}
}

// command returns the connection, topic and payload that set the field
// to v.
func (b *Bridge) command(dev, node, field string, v sensors.Value) (*conn, string, []byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, "", nil, ErrClosed
	}
	where := fmt.Sprintf("%s %s/%s", dev, node, field)
	d, ok := b.devices[dev]
	if !ok {
		return nil, "", nil, fmt.Errorf("mqttbridge: set %s: %w", where, ErrUnknownDevice)
	}
	fs, ok := d.fields[fieldKey{node, field}]
	if !ok {
		return nil, "", nil, fmt.Errorf("mqttbridge: set %s: %w", where, ErrUnknownField)
	}
	if !fs.f.Writable {
		return nil, "", nil, fmt.Errorf("mqttbridge: set %s: %w", where, ErrNotWritable)
	}
	if !compatible(fs.f.Value, v) {
		return nil, "", nil, fmt.Errorf("mqttbridge: set %s: %w: the field holds %s, not %s", where, ErrValueType, fs.f.Value.Kind(), v.Kind())
	}
	switch {
	case fs.cmd.homie != nil:
		h := fs.cmd.homie
		text := homieText(v)
		// Check the value as the device will: it must decode as the
		// property's datatype (e.g. an enum member, an rgb triple).
		if _, err := payload.Homie([]byte(text), h.datatype, h.format, b.cfg.MaxPayloadBytes); err != nil {
			return nil, "", nil, fmt.Errorf("mqttbridge: set %s: %w: %w", where, ErrValueType, err)
		}
		return d.conn, h.setTopic(d.conn.homie), []byte(text), nil
	case fs.cmd.mapping != nil:
		mc := fs.cmd.mapping.cfg
		text := valueText(v)
		if bv, ok := v.Bool(); ok {
			text = mc.PayloadOff
			if bv {
				text = mc.PayloadOn
			}
		}
		topic := expand(mc.CommandTopic, dev, node, field)
		body := expand(mc.CommandPayload, dev, node, field)
		body = strings.ReplaceAll(body, "{value}", text)
		return d.conn, topic, []byte(body), nil
	}
	return nil, "", nil, fmt.Errorf("mqttbridge: set %s: %w", where, ErrNotWritable)
}

// compatible reports whether v may be written to a field holding cur:
// the same kind, any number for a number, any text for text.
func compatible(cur, v sensors.Value) bool {
	if cur.Kind() == v.Kind() {
		return true
	}
	_, curNum := cur.Float()
	_, vNum := v.Float()
	_, curText := cur.Text()
	_, vText := v.Text()
	return (curNum && vNum) || (curText && vText)
}

// valueText writes a value for a command payload: numbers in their
// shortest form, others as XEP-0323 writes them.
func valueText(v sensors.Value) string {
	if v.Kind() == sensors.KindNumeric {
		f, _ := v.Float()
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return v.Format(0)
}

// homieText writes a value as Homie v4 spells its datatypes.
func homieText(v sensors.Value) string {
	if t, ok := v.Time(); ok && v.Kind() == sensors.KindDateTime {
		return t.Format(time.RFC3339Nano)
	}
	return valueText(v)
}

// awaitBroker returns at once while cn is connected; otherwise it fails
// or, with a queue, waits for the broker within the queue's bound and
// deadline. The queue's bound is shared by every broker.
func (b *Bridge) awaitBroker(ctx context.Context, cn *conn) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if cn.removed {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q (removed)", ErrUnknownBroker, cn.id)
	}
	if cn.connected {
		b.mu.Unlock()
		return nil
	}
	if b.cfg.QueueSize == 0 {
		b.mu.Unlock()
		return ErrNotConnected
	}
	if b.queued >= b.cfg.QueueSize {
		n := b.queued
		b.mu.Unlock()
		return fmt.Errorf("%w (%d waiting)", ErrQueueFull, n)
	}
	b.queued++
	ch := cn.connCh
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.queued--
		b.mu.Unlock()
	}()
	timer := time.NewTimer(b.cfg.QueueDeadline)
	defer timer.Stop()
	select {
	case <-ch:
		b.mu.Lock()
		closed, removed := b.closed, cn.removed
		b.mu.Unlock()
		switch {
		case closed:
			return ErrClosed
		case removed:
			return fmt.Errorf("%w: %q (removed)", ErrUnknownBroker, cn.id)
		}
		return nil
	case <-timer.C:
		return fmt.Errorf("%w (waited %v)", ErrQueueDeadline, b.cfg.QueueDeadline)
	case <-ctx.Done():
		return fmt.Errorf("waiting for the broker: %w", errors.Join(ctx.Err(), ErrNotConnected))
	}
}

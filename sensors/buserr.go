package sensors

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// likelyCause returns a short hint about what usually causes err on real
// hardware, or "". periph formats kernel errors with %v, so the errno can
// only be recognised by its text.
func likelyCause(err error) string {
	msg := err.Error()
	has := func(e syscall.Errno) bool { return strings.Contains(msg, e.Error()) }
	switch {
	case has(syscall.EREMOTEIO), has(syscall.ENXIO):
		return "no ACK from the device: check wiring, power and the address"
	case has(syscall.EACCES), has(syscall.EPERM):
		return "permission denied: run as root or add the user to the i2c/gpio group"
	case has(syscall.EBUSY):
		return "in use by another driver or process"
	case has(syscall.ENOENT), strings.Contains(msg, "not configured"):
		return "bus not enabled: on a Raspberry Pi enable it with dtparam (raspi-config)"
	case strings.Contains(msg, "unexpected chip id"):
		return "another kind of device answers at this address"
	case strings.Contains(msg, "did not respond"), strings.Contains(msg, "incorrect scratchpad CRC"):
		return "no answer or a garbled one: check the 4.7 kΩ pull-up, wiring and the ROM address"
	case strings.Contains(msg, "has not performed a temperature conversion"):
		return "conversion did not run: parasitic power needs a strong pull-up"
	}
	return ""
}

// wrapBusError wraps err with what failed, on which bus and address, and the
// likely cause when one is known.
func wrapBusError(what, bus, addr string, err error) error {
	if hint := likelyCause(err); hint != "" {
		return fmt.Errorf("%s on %s addr %s: %w (%s)", what, bus, addr, err, hint)
	}
	return fmt.Errorf("%s on %s addr %s: %w", what, bus, addr, err)
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// nowOr returns now, or time.Now when now is nil.
func nowOr(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

package sensors

import (
	"strings"
	"testing"

	"github.com/xiot/xiot/internal/config"
)

// TestHostHardwareWithoutBuses runs where periph registered no I²C bus and
// no GPIO (host.Init was not called): every lookup fails with a message
// naming the bus or pin, and Open reports the entry.
func TestHostHardwareWithoutBuses(t *testing.T) {
	h := &HostHardware{}
	defer h.Close()
	if _, err := h.I2C("7"); err == nil || !strings.Contains(err.Error(), "open on 7") {
		t.Errorf("I2C(7) = %v", err)
	}
	if _, err := h.OneWire(""); err == nil || !strings.Contains(err.Error(), "DS2482") {
		t.Errorf("OneWire = %v", err)
	}
	if p := h.Pin("NO_SUCH_PIN"); p != nil {
		t.Errorf("Pin(NO_SUCH_PIN) = %v", p)
	}
	_, err := Open([]config.Sensor{{Driver: config.DriverBME280, Bus: "7"}}, h, nil)
	if err == nil || !strings.Contains(err.Error(), "sensors[0] (bme280): open on 7") {
		t.Errorf("Open = %v", err)
	}
}

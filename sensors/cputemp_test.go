package sensors

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCPUTemp(t *testing.T) {
	dir := t.TempDir()
	zone := filepath.Join(dir, "class", "thermal", "thermal_zone0")
	if err := os.MkdirAll(zone, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(zone, "temp")
	tests := []struct {
		content string
		want    string
		wantErr string
	}{
		{"48312\n", "48.3", ""},
		{"-5250", "-5.2", ""}, // exact halves round to even, as strconv does
		{"0\n", "0.0", ""},
		{"hot\n", "", "millidegrees"},
	}
	for _, tt := range tests {
		if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := NewCPUTemp(CPUTempOpts{Path: path, Now: fixedNow})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.content, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		fields, err := c.Read(context.Background(), Momentary)
		if err != nil || len(fields) != 1 || fields[0].Text() != tt.want || fields[0].Node != "cpu" {
			t.Errorf("%q: Read = %v, %v; want %s", tt.content, fields, err, tt.want)
		}
	}
	_, err := NewCPUTemp(CPUTempOpts{Path: filepath.Join(dir, "thermal_zone9", "temp")})
	if err == nil || !strings.Contains(err.Error(), "no thermal zone") {
		t.Errorf("missing zone: %v", err)
	}
}

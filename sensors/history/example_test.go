package history_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/history"
)

// Store a morning of quarter-hourly temperatures and read them back raw
// and as hourly aggregates.
func Example() {
	dir, err := os.MkdirTemp("", "history")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := history.Open(filepath.Join(dir, "history.db"), history.Options{Location: time.UTC, MaxAge: 30 * 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	start := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	spec := sensors.FieldSpec{Name: "Temperature", Kind: sensors.KindNumeric, Unit: "°C", Decimals: 1, Types: sensors.Momentary}
	var batch []sensors.Field
	for i := range 8 {
		ts := start.Add(time.Duration(i) * 15 * time.Minute)
		batch = append(batch, spec.Field("room", sensors.Numeric(20+float64(i)/2), ts, sensors.QoSAutomaticReadout))
	}
	if err := s.Append(batch); err != nil { // durable once it returns
		log.Fatal(err)
	}

	ctx := context.Background()
	raw, _ := s.Query(ctx, []string{"room"}, nil, start.Add(30*time.Minute), start.Add(time.Hour))
	for _, f := range raw {
		fmt.Println(f.Timestamp.Format("15:04"), f.Text(), f.Unit)
	}
	hours, _ := s.Historical(ctx, sensors.HistoricalHour, nil, nil, time.Time{}, time.Time{})
	for _, f := range hours {
		fmt.Println(f.Timestamp.Format("15:04"), f.Name, f.Text(), f.Types)
	}
	// Output:
	// 08:30 21.0 °C
	// 08:45 21.5 °C
	// 09:00 22.0 °C
	// 08:00 Temperature 20.8 historicalHour
	// 08:00 Temperature, Max 21.5 peak,historicalHour
	// 08:00 Temperature, Min 20.0 peak,historicalHour
	// 09:00 Temperature 22.8 historicalHour
	// 09:00 Temperature, Max 23.5 peak,historicalHour
	// 09:00 Temperature, Min 22.0 peak,historicalHour
}

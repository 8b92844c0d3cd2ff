package agent

import (
	"context"
	"time"

	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/history"
	"github.com/xiot/xiot/sensors/sensordata"
)

// ServeSensors serves XEP-0323 readouts of ss on the agent's session: it
// registers a sensordata.Server on the agent's mux and announces its
// features. With store set (and opts.History nil), historical readouts
// come from the store. Call it before Run; close the server after Run.
func (a *Agent) ServeSensors(ss []sensors.Sensor, store *history.Store, opts sensordata.Options) *sensordata.Server {
	if store != nil && opts.History == nil {
		opts.History = historySource{store}
	}
	if opts.Logger == nil {
		opts.Logger = a.log
	}
	srv := sensordata.NewServer(ss, opts)
	srv.Register(a.mux)
	a.AddFeatures(srv.Features()...)
	return srv
}

// historySource answers sensordata's historical queries from a store.
type historySource struct{ s *history.Store }

func (h historySource) Query(ctx context.Context, nodes, fields []string, from, to time.Time, types sensors.ReadoutType) ([]sensors.Field, error) {
	return h.s.Historical(ctx, types, nodes, fields, from, to)
}

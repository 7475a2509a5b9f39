package daemon

import (
	"context"
	"fmt"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/sensors"
)

// openSensors opens every configured sensor. One that cannot be opened
// stops the start only if the config marks it required; otherwise it is
// logged and opened again on every read, so plugging it in later works.
func (d *Daemon) openSensors(ctx context.Context) ([]sensors.Source, error) {
	var out []sensors.Source
	for _, spec := range d.opts.Config.Sensors {
		s, err := d.opts.OpenSensor(ctx, spec)
		if err != nil {
			if spec.Required {
				return nil, fmt.Errorf("sensor %s (%s) is required but cannot be opened: %w (check its wiring and bus, or set required: false)", spec.Name, spec.Type, err)
			}
			d.log.Warn("sensor cannot be opened; trying again at every read", "sensor", spec.Name, "type", spec.Type, "error", err)
			s = sensors.Lazy(func(ctx context.Context) (sensors.Sensor, error) { return d.opts.OpenSensor(ctx, spec) })
		}
		out = append(out, SensorSource(spec, s))
	}
	return out, nil
}

// SensorSource schedules an opened sensor as its config says.
func SensorSource(spec config.Sensor, s sensors.Sensor) sensors.Source {
	src := sensors.Source{
		Name:      spec.Name,
		Sensor:    s,
		Interval:  spec.Interval.Std(),
		Timeout:   spec.Timeout.Std(),
		Samples:   spec.Samples,
		Deadband:  spec.Deadband,
		Heartbeat: spec.Heartbeat.Std(),
	}
	if len(spec.Calibrate) > 0 {
		src.Calibrate = map[string]sensors.Linear{}
		for field, c := range spec.Calibrate {
			scale := 1.0
			if c.Scale != nil {
				scale = *c.Scale
			}
			src.Calibrate[field] = sensors.Linear{Scale: scale, Offset: c.Offset}
		}
	}
	return src
}

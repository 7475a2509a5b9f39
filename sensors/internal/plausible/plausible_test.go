package plausible

import (
	"errors"
	"testing"

	"github.com/edgepub/edgepub/sensors"
)

func TestTemperature(t *testing.T) {
	for _, tc := range []struct {
		celsius  float64
		decimals int
		want     string // empty: plausible
	}{
		{-40, 2, ""},
		{125, 2, ""},
		{25.0625, 4, ""},
		{130, 2, "temperature 130.00 °C outside the sensor's range -40..125 °C: implausible value"},
		{-45, 2, "temperature -45.00 °C outside the sensor's range -40..125 °C: implausible value"},
		{-64, 4, "temperature -64.0000 °C outside the sensor's range -40..125 °C: implausible value"},
		{125.06, 1, "temperature 125.1 °C outside the sensor's range -40..125 °C: implausible value"},
	} {
		err := Temperature(tc.celsius, -40, 125, tc.decimals)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Temperature(%v) = %v, want nil", tc.celsius, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || !errors.Is(err, sensors.ErrImplausible)):
			t.Errorf("Temperature(%v) = %v, want %q wrapping ErrImplausible", tc.celsius, err, tc.want)
		}
	}
}

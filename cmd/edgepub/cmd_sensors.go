package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/daemon"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/catalog"
	"github.com/edgepub/edgepub/sensors/hwmon"
	"github.com/edgepub/edgepub/sensors/iio"
)

func cmdSensorsTypes(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("sensors types", "", "List the sensor types edgepub knows, one per line: type, chip, bus, fields.", stderr)
	if help, err := parseFlags(fset, args, stdout); help || err != nil {
		return err
	}
	for _, ti := range catalog.Types() {
		fmt.Fprintln(stdout, ti)
	}
	return nil
}

// defaultW1 is where the kernel's w1-gpio driver lists 1-Wire probes.
const defaultW1 = "/sys/bus/w1/devices"

func cmdSensorsScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("sensors scan", "[--bus /dev/i2c-1] [--w1 DIR] [--iio DIR] [--hwmon DIR]", "Probe an I2C bus (like i2cdetect), list 1-Wire probes and the IIO and hwmon devices the kernel drives,\nnaming the devices edgepub knows, and print a config snippet. Run it as a user in the i2c group.", stderr)
	bus := fset.String("bus", "/dev/i2c-1", "I2C bus to probe; \"\" skips I2C")
	w1 := fset.String("w1", defaultW1, "sysfs directory of 1-Wire devices; \"\" skips 1-Wire")
	iioDir := fset.String("iio", iio.DefaultBus, "sysfs directory of IIO devices; \"\" skips IIO")
	hwmonDir := fset.String("hwmon", hwmon.DefaultBus, "sysfs directory of hwmon devices; \"\" skips hwmon")
	if help, err := parseFlags(fset, args, stdout); help || err != nil {
		return err
	}
	var (
		found    []catalog.Found
		problems []string
		scanned  bool // a bus could be looked at, so "found nothing" is news
	)
	if *bus != "" {
		buses := catalog.NewHostBuses()
		defer buses.Close()
		b, err := buses.I2C(*bus)
		if err != nil {
			problems = append(problems, err.Error())
		} else {
			f, err := catalog.Scan(ctx, b)
			found, scanned = append(found, f...), true
			if err != nil {
				problems = append(problems, fmt.Sprintf("scanning i2c bus %q: %v", *bus, err))
			}
		}
	}
	if *w1 != "" {
		f, err := catalog.ListOneWire(*w1)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			problems = append(problems, fmt.Sprintf("cannot list 1-Wire probes: %s does not exist (add dtoverlay=w1-gpio to /boot/firmware/config.txt for DS18B20 probes, and reboot)", *w1))
		case err != nil:
			problems = append(problems, fmt.Sprintf("cannot list 1-Wire probes in %s: %v", *w1, err))
		default:
			scanned = true
		}
		found = append(found, f...)
	}
	kernel, err := catalog.ListKernel(*iioDir, *hwmonDir)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(kernel) > 0 {
		found, scanned = append(found, kernel...), true
	}
	if scanned {
		fmt.Fprint(stdout, catalog.Snippet(found, *bus))
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, "edgepub: sensors scan:", p)
	}
	if !scanned && len(problems) > 0 {
		return exitCode(1)
	}
	return nil
}

func cmdSensorsRead(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("sensors read", "[NAME...] [--all] [--config FILE] [--json]",
		"Read the named configured sensors, or all of them, once, without a broker: with their timeout, samples\n"+
			"and calibration, waiting out a sensor's warm-up. --json prints each reading as run would publish it,\n"+
			"without the seq field.", stderr)
	var cf configFlags
	// The certificate names the device in --json; no broker, state or log.
	cf.register(fset, "broker", "state-dir", "log-level")
	all := fset.Bool("all", false, "read every configured sensor")
	asJSON := fset.Bool("json", false, "print one JSON line per reading, as run publishes it (without seq)")
	if help, err := parseArgs(fset, args, stdout, 0, math.MaxInt); help || err != nil {
		return err
	}
	if (fset.NArg() == 0) == !*all {
		return usageError(fset, "name the sensors to read, or give --all (not both)")
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	specs, err := selectSensors(cfg.Sensors, fset.Args())
	if err != nil {
		return err
	}
	device := ""
	if *asJSON {
		device = deviceName(cfg, stderr)
	}
	buses := catalog.NewHostBuses()
	defer buses.Close()
	failed := 0
	for _, spec := range specs {
		r, err := readOnce(ctx, spec, buses)
		if err == nil {
			err = printReading(stdout, spec, r, device, *asJSON)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(stderr, "edgepub: sensors read: %v\n", err)
			failed++
		}
	}
	if failed > 0 {
		return exitCode(1)
	}
	return nil
}

// selectSensors returns the configured sensors named, in the order given, or
// all of them if names is empty.
func selectSensors(configured []config.Sensor, names []string) ([]config.Sensor, error) {
	if len(names) == 0 {
		return configured, nil
	}
	var specs []config.Sensor
	for _, name := range names {
		i := slices.IndexFunc(configured, func(s config.Sensor) bool { return s.Name == name })
		if i < 0 {
			var known []string
			for _, s := range configured {
				known = append(known, s.Name)
			}
			return nil, fmt.Errorf("no sensor named %q in the config (configured: %s)", name, strings.Join(known, ", "))
		}
		specs = append(specs, configured[i])
	}
	return specs, nil
}

// readOnce opens spec's sensor, reads it once as run would and halts it.
// The read may take the type's warm-up, its samples and their timeouts.
func readOnce(ctx context.Context, spec config.Sensor, buses catalog.Buses) (sensors.Reading, error) {
	ti, _ := catalog.Lookup(spec.Type) // loading the config checked it exists
	samples := time.Duration(max(spec.Samples, 1))
	budget := ti.WarmUp + samples*(ti.Spacing+spec.Timeout.Std()) + spec.Timeout.Std()
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	s, err := catalog.Open(ctx, spec, buses)
	if err != nil {
		return sensors.Reading{}, err
	}
	if h, ok := s.(interface{ Halt() error }); ok {
		defer h.Halt()
	}
	r, err := sensors.NewRunner(sensors.RunnerOpts{}).ReadOnce(ctx, daemon.SensorSource(spec, s))
	if err != nil {
		return r, fmt.Errorf("sensor %q (type %s): %w", spec.Name, spec.Type, err)
	}
	return r, nil
}

// printReading writes r as text, or as the JSON run publishes without its
// seq field.
func printReading(w io.Writer, spec config.Sensor, r sensors.Reading, device string, asJSON bool) error {
	if asJSON {
		payload, err := message.EncodeUnsequenced(device, r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", payload)
		return err
	}
	fmt.Fprintf(w, "%s (%s) at %s\n", spec.Name, spec.Type, r.Time.Format(time.RFC3339))
	for _, k := range slices.Sorted(maps.Keys(r.Values)) {
		fmt.Fprintf(w, "  %-20s %g\n", k, r.Values[k])
	}
	return nil
}

// deviceName is the device field run would publish: the client
// certificate's common name. Without a usable certificate it is the host
// name, and a note says so.
func deviceName(cfg config.Config, stderr io.Writer) string {
	b, err := certs.Load(cfg.Certs.Dir, certs.ConfigNames(cfg.Certs), time.Now())
	if err == nil {
		return b.Identity
	}
	host, _ := os.Hostname()
	fmt.Fprintf(stderr, "edgepub: sensors read: device %q is the host name, not the certificate's name, which run publishes (%v)\n", host, err)
	return host
}

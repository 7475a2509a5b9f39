package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/daemon"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/catalog"
	"github.com/edgepub/edgepub/sensors/hwmon"
	"github.com/edgepub/edgepub/sensors/iio"
)

func cmdSensors(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "scan":
			return cmdSensorsScan(ctx, args[1:], stdout, stderr)
		case "read":
			return cmdSensorsRead(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprint(stdout, "Usage: edgepub sensors scan [--bus /dev/i2c-1] [--w1 DIR] [--iio DIR] [--hwmon DIR]\n       edgepub sensors read NAME [--config FILE]\n\n"+
		"scan probes an I2C bus, the 1-Wire probes and the kernel's IIO and hwmon devices and prints a config snippet to paste.\n"+
		"read reads one configured sensor once and prints its values.\n")
	if len(args) > 0 && args[0] != "-h" && args[0] != "-help" && args[0] != "--help" {
		return exitCode(2)
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
	var found []catalog.Found
	var problems []string
	if *bus != "" {
		buses := catalog.NewHostBuses()
		defer buses.Close()
		b, err := buses.I2C(*bus)
		if err == nil {
			var f []catalog.Found
			f, err = catalog.Scan(ctx, b)
			found = append(found, f...)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("I2C %s: %v (enable I2C with dtparam=i2c_arm=on in /boot/firmware/config.txt, and add the user to the i2c group)", *bus, err))
		}
	}
	if *w1 != "" {
		f, err := catalog.ListOneWire(*w1)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			problems = append(problems, fmt.Sprintf("1-Wire %s: not present (add dtoverlay=w1-gpio to /boot/firmware/config.txt for DS18B20 probes)", *w1))
		case err != nil:
			problems = append(problems, fmt.Sprintf("1-Wire %s: %v", *w1, err))
		}
		found = append(found, f...)
	}
	kernel, err := catalog.ListKernel(*iioDir, *hwmonDir)
	if err != nil {
		problems = append(problems, err.Error())
	}
	found = append(found, kernel...)
	fmt.Fprint(stdout, catalog.Snippet(found, *bus))
	for _, p := range problems {
		fmt.Fprintln(stderr, "edgepub: sensors scan:", p)
	}
	if len(found) == 0 && len(problems) > 0 {
		return exitCode(1)
	}
	return nil
}

func cmdSensorsRead(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("sensors read", "NAME [--config FILE]", "Read one configured sensor once, with its timeout and calibration, and print the values.", stderr)
	var cf configFlags
	cf.register(fset)
	if help, err := parseFlags(fset, interspersed(fset, args), stdout); help || err != nil {
		return err
	}
	if fset.NArg() != 1 {
		fset.Usage()
		return exitCode(2)
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	name := fset.Arg(0)
	idx := slices.IndexFunc(cfg.Sensors, func(s config.Sensor) bool { return s.Name == name })
	if idx < 0 {
		var names []string
		for _, s := range cfg.Sensors {
			names = append(names, s.Name)
		}
		return fmt.Errorf("no sensor named %q in the config (configured: %s)", name, strings.Join(names, ", "))
	}
	spec := cfg.Sensors[idx]
	buses := catalog.NewHostBuses()
	defer buses.Close()
	s, err := catalog.Open(ctx, spec, buses)
	if err != nil {
		return fmt.Errorf("sensor %s (%s): %w", spec.Name, spec.Type, err)
	}
	src := daemon.SensorSource(spec, s)
	src.Interval = time.Hour // one read only
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got *sensors.Reading
	runner := sensors.NewRunner(sensors.RunnerOpts{})
	done := make(chan struct{})
	go func() {
		runner.Run(runCtx, []sensors.Source{src}, func(r sensors.Reading) { got = &r; cancel() })
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(spec.Timeout.Std()*time.Duration(spec.Samples) + time.Second):
		cancel()
		<-done
	}
	if got == nil {
		st := runner.Status()
		if len(st) == 1 && st[0].LastError != "" {
			return fmt.Errorf("sensor %s: %s", spec.Name, st[0].LastError)
		}
		return fmt.Errorf("sensor %s: no reading within its timeout %v", spec.Name, spec.Timeout.Std())
	}
	keys := make([]string, 0, len(got.Values))
	for k := range got.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Fprintf(stdout, "%s (%s) at %s\n", spec.Name, spec.Type, got.Time.Format(time.RFC3339))
	for _, k := range keys {
		fmt.Fprintf(stdout, "  %-20s %g\n", k, got.Values[k])
	}
	return nil
}

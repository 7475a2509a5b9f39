package catalog

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edgepub/edgepub/sensors/hwmon"
	"github.com/edgepub/edgepub/sensors/iio"
)

// Snippet writes what a scan found as the sensors section of edgepub's
// configuration, to check and paste. I²C devices are put on bus; 1-Wire
// probes on the kernel's bus; IIO and hwmon devices are found by their
// driver's name, or by their folder when several share it. A device that
// fits several types gets the most likely one and a comment naming the
// others; one edgepub cannot read gets only a comment.
func Snippet(found []Found, bus string) string {
	var b strings.Builder
	if len(found) == 0 {
		fmt.Fprintf(&b, "# edgepub scan found no devices on %s.\n", bus)
		return b.String()
	}
	b.WriteString("# Found by edgepub scan. Check each entry, rename it after what it\n")
	b.WriteString("# measures, and delete what you do not want.\n")
	b.WriteString("sensors:\n")
	names := map[string]bool{}
	for _, f := range found {
		where := "rom " + f.ROM
		switch {
		case f.Path != "":
			where = f.Path + " (" + f.Chip + ")"
		case f.ROM == "":
			where = fmt.Sprintf("%#02x", f.Addr)
		}
		if f.Note != "" {
			fmt.Fprintf(&b, "  # %s: %s\n", where, f.Note)
		}
		if len(f.Types) == 0 {
			continue
		}
		typ := f.Types[0]
		if len(f.Types) > 1 {
			fmt.Fprintf(&b, "  # %s: or type %s\n", where, strings.Join(f.Types[1:], ", or type "))
		}
		if typ == "ds18b20" && f.ROM == "" {
			writeBridgeTemplate(&b, f, bus)
			continue
		}
		name := uniqueName(names, entryName(f, typ))
		fmt.Fprintf(&b, "  - name: %s\n    type: %s\n", name, typ)
		if f.Path != "" {
			writeKernelDevice(&b, f)
			continue
		}
		if f.ROM != "" {
			fmt.Fprintf(&b, "    rom: %s\n", f.ROM)
			continue
		}
		fmt.Fprintf(&b, "    bus: %s\n    address: %#02x\n", strconv.Quote(bus), f.Addr)
	}
	return b.String()
}

// writeBridgeTemplate writes a commented entry for a probe behind a DS2482,
// whose rom id the scan cannot know.
func writeBridgeTemplate(b *strings.Builder, f Found, bus string) {
	fmt.Fprintf(b, "  # One entry per probe behind the bridge at %#02x:\n", f.Addr)
	fmt.Fprintf(b, "  # - name: probe-1\n  #   type: ds18b20\n  #   bridge: ds2482\n")
	fmt.Fprintf(b, "  #   bus: %s\n  #   address: %#02x\n  #   rom: 28-xxxxxxxxxxxx\n", strconv.Quote(bus), f.Addr)
}

// writeKernelDevice writes how an entry finds a device the kernel drives:
// by its driver's name when that is unique, else by its folder.
func writeKernelDevice(b *strings.Builder, f Found) {
	if f.Match == "" {
		fmt.Fprintf(b, "    path: %s\n", strconv.Quote(f.Path))
		return
	}
	fmt.Fprintf(b, "    match: %s\n", strconv.Quote(f.Match))
	if dir := filepath.Dir(f.Path); dir != iio.DefaultBus && dir != hwmon.DefaultBus {
		fmt.Fprintf(b, "    bus: %s\n", strconv.Quote(dir))
	}
}

// entryName suggests a sensor name from the type and address, rom id or
// kernel device.
func entryName(f Found, typ string) string {
	if f.Path != "" {
		return typ + "-" + strings.ReplaceAll(filepath.Base(f.Path), ":", "-")
	}
	if f.ROM != "" {
		_, serial, _ := strings.Cut(f.ROM, "-")
		return typ + "-" + serial
	}
	return fmt.Sprintf("%s-%02x", typ, f.Addr)
}

// uniqueName returns name, or name with a number appended if it is taken.
func uniqueName(taken map[string]bool, name string) string {
	n := name
	for i := 2; taken[n]; i++ {
		n = fmt.Sprintf("%s-%d", name, i)
	}
	taken[n] = true
	return n
}

package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/devices/v3/ds248x"
	"periph.io/x/host/v3"
)

// Buses opens the buses sensors are connected to, by the names the
// configuration gives.
type Buses interface {
	// I2C returns the named I²C bus, such as "/dev/i2c-1". Sensors share it.
	I2C(name string) (i2c.Bus, error)
	// SPI returns the named SPI port, such as "/dev/spidev0.0". A port
	// serves one device (its chip select), so every call opens it anew;
	// Open closes it again if the device cannot be set up.
	SPI(name string) (spi.PortCloser, error)
	// OneWireBridge returns the 1-Wire bus of the DS2482 at addr on the named
	// I²C bus. The probes behind one bridge share it.
	OneWireBridge(i2cBus string, addr uint16) (onewire.Bus, error)
}

// errNoBusName is returned for an empty bus name: a daemon that picked "the
// first bus" would read another board's HAT EEPROM bus without a word.
var errNoBusName = errors.New("bus is empty: name the bus the sensor is on, such as bus: /dev/i2c-1 (edgepub never guesses)")

// HostBuses opens buses through periph's host drivers (sysfs I²C and SPI,
// and on a Raspberry Pi its own drivers). It initialises them once, on the
// first bus opened, and keeps every bus until Close. It is safe for
// concurrent use.
type HostBuses struct {
	mu       sync.Mutex
	initDone bool
	initErr  error
	i2c      map[string]i2c.BusCloser
	spi      map[*hostPort]struct{}
	bridges  map[bridgeKey]*bridge
}

type bridgeKey struct {
	bus  string
	addr uint16
}

// NewHostBuses returns a HostBuses that has not touched the hardware yet.
func NewHostBuses() *HostBuses {
	return &HostBuses{
		i2c:     map[string]i2c.BusCloser{},
		spi:     map[*hostPort]struct{}{},
		bridges: map[bridgeKey]*bridge{},
	}
}

// init loads periph's host drivers once; h.mu must be held.
func (h *HostBuses) init() error {
	if !h.initDone {
		h.initDone = true
		if _, err := host.Init(); err != nil {
			h.initErr = fmt.Errorf("loading periph's host drivers: %w", err)
		}
	}
	return h.initErr
}

// I2C returns the named I²C bus, opening it on first use. "/dev/i2c-1", "1"
// and "I2C1" all name the same bus; a bus already open under another of its
// names is shared rather than opened twice.
func (h *HostBuses) I2C(name string) (i2c.Bus, error) {
	if name == "" {
		return nil, errNoBusName
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.i2c[name]; ok {
		return b, nil
	}
	if err := h.init(); err != nil {
		return nil, err
	}
	b, err := i2creg.Open(name)
	if err != nil {
		return nil, i2cOpenError(name, err)
	}
	for _, open := range h.i2c {
		if open.String() == b.String() {
			_ = b.Close()
			h.i2c[name] = open
			return open, nil
		}
	}
	h.i2c[name] = b
	return b, nil
}

// i2cOpenError says why the bus named name cannot be opened and what to
// do, in place of periph's registry error (which, on a machine without any
// bus, asks its programmer whether they forgot to call Init).
func i2cOpenError(name string, err error) error {
	node := i2cDevNode(name)
	if node == "" {
		return fmt.Errorf("cannot open i2c bus %q: %s (name it as /dev/i2c-1; is the bus enabled with dtparam=i2c_arm=on?)", name, strings.TrimSuffix(err.Error(), "; did you forget to call Init()?"))
	}
	f, oerr := os.OpenFile(node, os.O_RDWR, 0)
	switch {
	case errors.Is(oerr, fs.ErrNotExist):
		return fmt.Errorf("cannot open i2c bus %q: %s does not exist: enable I2C with dtparam=i2c_arm=on in /boot/firmware/config.txt (or raspi-config) and reboot", name, node)
	case errors.Is(oerr, fs.ErrPermission):
		return fmt.Errorf("cannot open i2c bus %q: no permission to open %s: add the user to the i2c group (sudo adduser $USER i2c, then log in again)", name, node)
	case oerr != nil:
		return fmt.Errorf("cannot open i2c bus %q: %w", name, oerr)
	}
	f.Close()
	return fmt.Errorf("cannot open i2c bus %q: %s opens, but periph's host drivers do not list it: is edgepub running in a container without /sys?", name, node)
}

// i2cDevNode is the device file of an I²C bus named "/dev/i2c-1", "1" or
// "I2C1"; empty for other names.
func i2cDevNode(name string) string {
	if strings.HasPrefix(name, "/dev/") {
		return name
	}
	n := strings.TrimPrefix(strings.ToUpper(name), "I2C")
	if _, err := strconv.Atoi(n); err != nil {
		return ""
	}
	return "/dev/i2c-" + n
}

// SPI opens the named SPI port. Closing the port releases it; Close closes
// every port still open.
func (h *HostBuses) SPI(name string) (spi.PortCloser, error) {
	if name == "" {
		return nil, errNoBusName
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.init(); err != nil {
		return nil, err
	}
	p, err := spireg.Open(name)
	if err != nil {
		return nil, fmt.Errorf("opening spi port %q: %w (is SPI enabled with dtparam=spi=on, and is edgepub in the spi group?)", name, err)
	}
	hp := &hostPort{PortCloser: p, owner: h}
	h.spi[hp] = struct{}{}
	return hp, nil
}

// OneWireBridge returns the 1-Wire bus behind the DS2482 at addr on the
// named I²C bus. The bridge is set up on first use and set up again after
// an I²C failure, which periph's driver otherwise keeps reporting forever.
func (h *HostBuses) OneWireBridge(i2cBus string, addr uint16) (onewire.Bus, error) {
	b, err := h.I2C(i2cBus)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := bridgeKey{i2cBus, addr}
	if br, ok := h.bridges[key]; ok {
		return br, nil
	}
	br := newBridge(fmt.Sprintf("ds2482 at %#02x on %s", addr, b), func() (onewire.Bus, error) {
		opts := ds248x.DefaultOpts
		d, err := ds248x.New(b, addr, &opts)
		if err != nil {
			return nil, err
		}
		return d, nil
	})
	if err := br.check(); err != nil {
		return nil, err
	}
	h.bridges[key] = br
	return br, nil
}

// Close closes every bus and port opened.
func (h *HostBuses) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	closed := map[i2c.BusCloser]bool{}
	for _, b := range h.i2c {
		if !closed[b] {
			closed[b] = true
			errs = append(errs, b.Close())
		}
	}
	for p := range h.spi {
		errs = append(errs, p.PortCloser.Close())
	}
	h.i2c, h.spi, h.bridges = map[string]i2c.BusCloser{}, map[*hostPort]struct{}{}, map[bridgeKey]*bridge{}
	return errors.Join(errs...)
}

// hostPort is an SPI port HostBuses keeps track of until it is closed.
type hostPort struct {
	spi.PortCloser
	owner *HostBuses
}

// Close closes the port once and forgets it.
func (p *hostPort) Close() error {
	p.owner.mu.Lock()
	defer p.owner.mu.Unlock()
	if _, open := p.owner.spi[p]; !open {
		return nil
	}
	delete(p.owner.spi, p)
	return p.PortCloser.Close()
}

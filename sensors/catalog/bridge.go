package catalog

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/onewire"
)

// bridge is a 1-Wire bus behind an I²C bridge that sets the bridge up again
// after it failed on the I²C side. periph's ds248x keeps returning its first
// I²C error forever ("a fresh Dev must be created"), so without this one
// glitch on the I²C bus would silence every probe until a restart. Errors on
// the 1-Wire side (no probe answered, a short) leave the bridge as it is.
type bridge struct {
	name string
	open func() (onewire.Bus, error)

	mu  sync.Mutex
	bus onewire.Bus // nil until set up, and again after an I²C failure
}

var _ onewire.Bus = (*bridge)(nil)

func newBridge(name string, open func() (onewire.Bus, error)) *bridge {
	return &bridge{name: name, open: open}
}

// String names the bridge.
func (b *bridge) String() string { return b.name }

// check sets the bridge up if it is not, so that a missing bridge is
// reported when a sensor is opened rather than at its first read.
func (b *bridge) check() error {
	_, err := b.current()
	return err
}

// Tx runs one 1-Wire transaction.
func (b *bridge) Tx(w, r []byte, power onewire.Pullup) error {
	bus, err := b.current()
	if err != nil {
		return err
	}
	err = bus.Tx(w, r, power)
	b.dropAfter(bus, err)
	return err
}

// Search lists the devices on the 1-Wire bus.
func (b *bridge) Search(alarmOnly bool) ([]onewire.Address, error) {
	bus, err := b.current()
	if err != nil {
		return nil, err
	}
	addrs, err := bus.Search(alarmOnly)
	b.dropAfter(bus, err)
	return addrs, err
}

// current returns the bridge's bus, setting it up if needed.
func (b *bridge) current() (onewire.Bus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bus == nil {
		bus, err := b.open()
		if err != nil {
			return nil, fmt.Errorf("%s: setting up the 1-wire bridge: %w", b.name, err)
		}
		b.bus = bus
	}
	return b.bus, nil
}

// dropAfter forgets bus if err came from the I²C side, so that the next
// transaction sets the bridge up afresh.
func (b *bridge) dropAfter(bus onewire.Bus, err error) {
	if err == nil || isOneWireError(err) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bus == bus {
		b.bus = nil
	}
}

// isOneWireError reports whether err is a fault on the 1-Wire side, which
// periph marks with a BusError method.
func isOneWireError(err error) bool {
	var be onewire.BusError
	return errors.As(err, &be) && be.BusError()
}

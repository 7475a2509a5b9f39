package catalog

import (
	"errors"
	"strings"
	"testing"

	"periph.io/x/conn/v3/onewire"
)

// oneWireFault is an error on the 1-Wire side, as periph marks them.
type oneWireFault string

func (e oneWireFault) Error() string  { return string(e) }
func (e oneWireFault) BusError() bool { return true }

// scriptedOneWire answers each transaction with the next error of its script.
type scriptedOneWire struct {
	errs []error
	n    int
}

func (s *scriptedOneWire) String() string { return "scripted" }
func (s *scriptedOneWire) Tx(w, r []byte, power onewire.Pullup) error {
	err := s.errs[s.n]
	s.n++
	return err
}
func (s *scriptedOneWire) Search(bool) ([]onewire.Address, error) {
	return nil, s.Tx(nil, nil, false)
}

func TestBridgeIsSetUpAgainAfterAnI2CFailure(t *testing.T) {
	i2cFailure := errors.New("sysfs-i2c: remote i/o error")
	script := &scriptedOneWire{errs: []error{nil, oneWireFault("ds248x: no device present"), i2cFailure, nil, nil}}
	opened := 0
	br := newBridge("ds2482 at 0x18 on test", func() (onewire.Bus, error) {
		opened++
		return script, nil
	})
	if err := br.check(); err != nil || opened != 1 {
		t.Fatalf("check: %v, opened %d", err, opened)
	}
	steps := []struct {
		wantErr    error
		wantOpened int
	}{
		{nil, 1},
		{oneWireFault("ds248x: no device present"), 1}, // 1-Wire side: keep the bridge
		{i2cFailure, 1}, // I²C side: drop it ...
		{nil, 2},        // ... and set it up again on the next transaction
	}
	for i, s := range steps {
		err := br.Tx([]byte{0xcc}, nil, onewire.WeakPullup)
		if !errors.Is(err, s.wantErr) && err != s.wantErr {
			t.Errorf("step %d: %v, want %v", i, err, s.wantErr)
		}
		if opened != s.wantOpened {
			t.Errorf("step %d: opened %d times, want %d", i, opened, s.wantOpened)
		}
	}
	if _, err := br.Search(false); err != nil {
		t.Errorf("Search: %v", err)
	}
}

func TestBridgeThatCannotBeSetUp(t *testing.T) {
	missing := errors.New("ds248x: invalid status register value: 0xff, expected 0x18")
	calls := 0
	br := newBridge("ds2482 at 0x18 on test", func() (onewire.Bus, error) { calls++; return nil, missing })
	err := br.check()
	if !errors.Is(err, missing) || !strings.Contains(err.Error(), "ds2482 at 0x18 on test") {
		t.Errorf("check = %v", err)
	}
	if err := br.Tx(nil, nil, false); !errors.Is(err, missing) || calls != 2 {
		t.Errorf("Tx = %v after %d set-ups, want a new attempt", err, calls)
	}
}

func TestHostBusesWantNamedBuses(t *testing.T) {
	h := NewHostBuses()
	if _, err := h.I2C(""); !errors.Is(err, errNoBusName) {
		t.Errorf("I2C(\"\") = %v", err)
	}
	if _, err := h.SPI(""); !errors.Is(err, errNoBusName) {
		t.Errorf("SPI(\"\") = %v", err)
	}
	if _, err := h.OneWireBridge("", 0x18); !errors.Is(err, errNoBusName) {
		t.Errorf("OneWireBridge(\"\") = %v", err)
	}
	if h.initDone {
		t.Error("an empty name loaded the host drivers")
	}
	if err := h.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}

func TestHostBusesMissingBus(t *testing.T) {
	h := NewHostBuses()
	defer h.Close()
	// On a machine without the bus, the error says it cannot open it and
	// why, without periph's question to its programmer.
	for _, name := range []string{"/dev/i2c-99", "99", "I2C99"} {
		_, err := h.I2C(name)
		if err == nil || !strings.Contains(err.Error(), `cannot open i2c bus "`+name+`": /dev/i2c-99 does not exist`) ||
			!strings.Contains(err.Error(), "dtparam=i2c_arm=on") || strings.Contains(err.Error(), "Init()") {
			t.Errorf("I2C(%s) = %v", name, err)
		}
	}
	if _, err := h.I2C("bus-one"); err == nil || strings.Contains(err.Error(), "Init()") || !strings.Contains(err.Error(), "/dev/i2c-1") {
		t.Errorf("I2C(bus-one) = %v", err)
	}
	if _, err := h.SPI("/dev/spidev9.9"); err == nil || !strings.Contains(err.Error(), "dtparam=spi=on") {
		t.Errorf("SPI(/dev/spidev9.9) = %v", err)
	}
	if !h.initDone {
		t.Error("host drivers were not loaded")
	}
}

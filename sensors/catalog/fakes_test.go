package catalog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/edgepub/edgepub/sensors/internal/sensirion"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// errNACK is what a fake bus returns for a device that does not acknowledge.
var errNACK = errors.New("i2c: remote i/o error (nack)")

// fakeBuses hands out the buses a test prepared, by name, and remembers
// what was asked for.
type fakeBuses struct {
	mu      sync.Mutex
	i2c     map[string]i2c.Bus
	spi     map[string]spi.PortCloser
	bridges map[string]onewire.Bus // by "bus@addr"
	asked   []string
}

func (f *fakeBuses) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, s)
}

func (f *fakeBuses) I2C(name string) (i2c.Bus, error) {
	f.note("i2c " + name)
	if b, ok := f.i2c[name]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("no i2c bus %q in this test", name)
}

func (f *fakeBuses) SPI(name string) (spi.PortCloser, error) {
	f.note("spi " + name)
	if p, ok := f.spi[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("no spi port %q in this test", name)
}

func (f *fakeBuses) OneWireBridge(bus string, addr uint16) (onewire.Bus, error) {
	key := fmt.Sprintf("%s@%#02x", bus, addr)
	f.note("bridge " + key)
	if b, ok := f.bridges[key]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("no bridge %s in this test", key)
}

// silentBus acknowledges nothing and records the addresses it was asked for.
type silentBus struct {
	mu    sync.Mutex
	addrs []uint16
}

func (b *silentBus) String() string { return "silent" }
func (b *silentBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addrs = append(b.addrs, addr)
	return errNACK
}
func (b *silentBus) SetSpeed(physic.Frequency) error { return nil }

// deviceBus is an I²C bus with simulated chips at some addresses.
type deviceBus struct {
	mu      sync.Mutex
	devices map[uint16]chip
}

// chip answers one transfer; it returns errNACK where the real chip would
// not acknowledge.
type chip func(w, r []byte) error

func (b *deviceBus) String() string                  { return "devices" }
func (b *deviceBus) SetSpeed(physic.Frequency) error { return nil }
func (b *deviceBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.devices[addr]
	if !ok {
		return errNACK
	}
	return c(w, r)
}

// registers is a chip with 16-bit big-endian registers that also answers a
// plain read.
func registers(regs map[byte]uint16) chip {
	return func(w, r []byte) error {
		switch {
		case len(w) == 0:
			fill(r, 0)
		case len(w) == 1 && len(r) == 2:
			v, ok := regs[w[0]]
			if !ok {
				return errNACK
			}
			binary.BigEndian.PutUint16(r, v)
		case len(w) == 1 && len(r) == 1:
			v, ok := regs[w[0]]
			if !ok {
				return errNACK
			}
			r[0] = byte(v)
		default:
			return errNACK
		}
		return nil
	}
}

// sensirionChip is a chip that NACKs reads unless a known command is pending,
// then answers that command's words with CRCs.
func sensirionChip(replies map[string][]uint16) chip {
	var pending []uint16
	return func(w, r []byte) error {
		if len(w) > 0 {
			words, ok := replies[string(w)]
			if !ok {
				return errNACK
			}
			pending = words
			return nil
		}
		if pending == nil || len(r) != 3*len(pending) {
			return errNACK
		}
		for i, word := range pending {
			r[3*i], r[3*i+1] = byte(word>>8), byte(word)
			r[3*i+2] = sensirion.CRC8(r[3*i : 3*i+2])
		}
		pending = nil
		return nil
	}
}

// sleepyAM2320 ignores the transfer that wakes it, then acknowledges its
// read-registers function, but never a bare read.
func sleepyAM2320() chip {
	awake := false
	return func(w, r []byte) error {
		if !awake {
			awake = true
			return errNACK
		}
		if len(w) == 3 && w[0] == 0x03 {
			return nil
		}
		if len(w) == 0 && len(r) == 8 {
			return nil
		}
		return errNACK
	}
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

package am2320

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/pause"
	"github.com/edgepub/edgepub/sensors/internal/plausible"
	"periph.io/x/conn/v3/i2c"
)

// DefaultAddr is the sensor's fixed 7-bit I²C address. The datasheet writes
// it as 0xB8, which is the address shifted left with the write bit.
const DefaultAddr uint16 = 0x5C

// Measurable range of the device (datasheet, sensor performance tables).
const (
	minCelsius  = -40.0
	maxCelsius  = 80.0
	maxHumidity = 100.0
)

// MinSpacing is the shortest time between two reads: the datasheet
// (sections 8.2.4 and 8.3.3) asks for at least 2 s, as the sensor measures
// after each read and a read sooner returns the previous result.
const MinSpacing = 2 * time.Second

const (
	// The wake-up write is NACKed. The datasheet (section 8.2.4, step
	// one) holds the bus 0.8 to 3 ms inside the wake-up frame, which a
	// Linux I²C adapter cannot; like Adafruit's driver, wait 10 ms after
	// it instead.
	waitWake = 10 * time.Millisecond
	// The sensor needs at least 1.5 ms between the read command and the
	// read of its reply.
	waitReply = 2 * time.Millisecond
)

// readRegisters asks for 4 registers from 0x00: humidity then temperature,
// each as a big-endian word. The reply is function code, byte count, the 4
// data bytes and a little-endian CRC-16.
var readRegisters = []byte{0x03, 0x00, 0x04}

// ErrCRC means the reply did not match its checksum: the bytes were
// corrupted on the wire, usually by long cables or weak pull-ups.
var ErrCRC = errors.New("CRC mismatch")

// Opts configures a Dev. It has no fields yet; it keeps NewI2C's signature
// that of the other drivers.
type Opts struct{}

// DefaultOpts is the only configuration.
var DefaultOpts = Opts{}

// Dev is an AM2320 on an I²C bus. It is safe for concurrent use: a read
// command and its reply never interleave with another read.
type Dev struct {
	d    i2c.Dev
	opts Opts

	mu       sync.Mutex
	lastRead time.Time // when the last read command was sent; zero before the first
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C returns the AM2320 on b. The address is fixed in the device, so addr
// must be DefaultAddr. It does not touch the bus: the sensor is asleep until
// the first Sense. A nil opts means DefaultOpts.
func NewI2C(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if addr != DefaultAddr {
		return nil, fmt.Errorf("am2320: address %#x is not the AM2320's: its address is fixed at 0x5c", addr)
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	d := &Dev{d: i2c.Dev{Bus: b, Addr: addr}, opts: *opts}
	return d, nil
}

// String names the device and where it is, for error messages and logs.
func (d *Dev) String() string {
	return fmt.Sprintf("am2320 at %#x on %s", d.d.Addr, d.d.Bus)
}

// Spacing is MinSpacing: the datasheet's shortest time between two reads.
func (d *Dev) Spacing() time.Duration { return MinSpacing }

// Sense wakes the sensor, reads it and returns "temperature_c" and
// "humidity_pct". A read sooner than MinSpacing after the last one first
// waits out the rest (bounded by ctx). The sensor measures after each read
// and returns that measurement at the next, so a value is as old as the
// time since the previous read. A reply outside -40..80 °C or 0..100 %, or of all 0x00 or
// all 0xFF, is reported as sensors.ErrImplausible; a corrupted reply as ErrCRC.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	reply, err := d.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	values, err := decode(reply)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	return values, nil
}

func (d *Dev) read(ctx context.Context) ([]byte, error) {
	if !d.lastRead.IsZero() {
		if early := MinSpacing - time.Now().Sub(d.lastRead); early > 0 {
			if err := pause.For(ctx, early); err != nil {
				return nil, fmt.Errorf("wait %v since the last read, as the datasheet asks: %w", MinSpacing, err)
			}
		}
	}
	// A sleeping sensor does not acknowledge the byte that wakes it, so the
	// error is expected. periph's sysfs bus skips empty writes, hence one byte.
	_ = d.d.Tx([]byte{0x00}, nil)
	if err := pause.For(ctx, waitWake); err != nil {
		return nil, fmt.Errorf("wait for wake-up: %w", err)
	}
	d.lastRead = time.Now()
	if err := d.d.Tx(readRegisters, nil); err != nil {
		return nil, fmt.Errorf("send read command (is an AM2320 connected?): %w", err)
	}
	if err := pause.For(ctx, waitReply); err != nil {
		return nil, fmt.Errorf("wait for reply: %w", err)
	}
	reply := make([]byte, 8)
	if err := d.d.Tx(nil, reply); err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	return reply, nil
}

func decode(reply []byte) (sensors.Values, error) {
	if allBytes(reply, 0x00) || allBytes(reply, 0xFF) {
		return nil, fmt.Errorf("reply is all %#02x, as from a bus with no sensor on it (check wiring): %w", reply[0], sensors.ErrImplausible)
	}
	// An error reply carries a different function code and is shorter, so
	// its CRC would not be where this one's is.
	if reply[0] != readRegisters[0] || reply[1] != readRegisters[2] {
		return nil, fmt.Errorf("reply starts % x, want 03 04: the sensor refused the read command or the reply was corrupted", reply[:2])
	}
	if got, want := binary.LittleEndian.Uint16(reply[6:]), crc16(reply[:6]); got != want {
		return nil, fmt.Errorf("%w: reply % x has CRC %#04x, want %#04x (noise on the bus: check cable length and pull-ups)", ErrCRC, reply, got, want)
	}
	humidity := float64(binary.BigEndian.Uint16(reply[2:])) / 10
	// Sign and magnitude, not two's complement (datasheet p. 22: -10.1 °C is 0x8065).
	rawT := binary.BigEndian.Uint16(reply[4:])
	celsius := float64(rawT&0x7FFF) / 10
	if rawT&0x8000 != 0 {
		celsius = -celsius
	}
	if err := plausible.Temperature(celsius, minCelsius, maxCelsius, 1); err != nil {
		return nil, err
	}
	if humidity > maxHumidity {
		return nil, fmt.Errorf("humidity %.1f %% above 100 %%: %w", humidity, sensors.ErrImplausible)
	}
	return sensors.Values{"temperature_c": celsius, "humidity_pct": humidity}, nil
}

func allBytes(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}

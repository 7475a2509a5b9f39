package bmxx80

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// maxConversion bounds a BMx280 forced-mode conversion: the datasheet's
// maximum measurement time (appendix B) with 16x oversampling of all three
// quantities is 1.25 + 2.3·16 + (2.3·16 + 0.575)·2 = 112.8 ms. A chip still
// measuring well after that is stuck, or the bus returns a stuck status.
const maxConversion = 2 * 113 * time.Millisecond

// statusPoll is the pause between two reads of the status register, which
// periph reads in a loop without a pause or a limit.
const statusPoll = time.Millisecond

// errStuckBusy is returned for a status register that keeps saying
// "measuring".
var errStuckBusy = fmt.Errorf("the status register still says measuring %v after the conversion started (a stuck chip, or a bus that returns 0xff): check the wiring", maxConversion)

// busyGuard watches the transfers periph makes: it notes when a forced
// conversion starts (a write of ctrl_meas, register 0xF4), and fails a read
// of the status register (0xF3) that still shows the measuring bit once
// maxConversion has passed; until then it paces the polls.
type busyGuard struct {
	mu      sync.Mutex
	started time.Time
}

// watch runs before a transfer; startsConversion says it writes ctrl_meas.
func (g *busyGuard) watch(startsConversion bool) {
	if startsConversion {
		g.mu.Lock()
		g.started = time.Now()
		g.mu.Unlock()
	}
}

// checkStatus runs after a status read returned b.
func (g *busyGuard) checkStatus(b byte) error {
	const measuring = 0x08
	if b&measuring == 0 {
		return nil
	}
	g.mu.Lock()
	started := g.started
	g.mu.Unlock()
	if !started.IsZero() && time.Since(started) > maxConversion {
		return errStuckBusy
	}
	time.Sleep(statusPoll)
	return nil
}

// guardedBus is an I²C bus whose BMx280 status polls are bounded.
type guardedBus struct {
	i2c.Bus
	guard busyGuard
}

func (b *guardedBus) Tx(addr uint16, w, r []byte) error {
	b.guard.watch(len(w) >= 2 && w[0] == 0xf4 && len(r) == 0)
	if err := b.Bus.Tx(addr, w, r); err != nil {
		return err
	}
	if len(w) == 1 && w[0] == 0xf3 && len(r) == 1 {
		return b.guard.checkStatus(r[0])
	}
	return nil
}

// guardedPort is an SPI port whose connection bounds the status polls.
type guardedPort struct {
	spi.Port
}

func (p guardedPort) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	c, err := p.Port.Connect(f, mode, bits)
	if err != nil {
		return nil, err
	}
	return &guardedConn{Conn: c}, nil
}

// guardedConn is guardedBus for SPI, where a register read's address byte
// has bit 7 set and a write's has it clear (0xF4 goes out as 0x74).
type guardedConn struct {
	spi.Conn
	guard busyGuard
}

func (c *guardedConn) Tx(w, r []byte) error {
	c.guard.watch(len(w) >= 2 && w[0] == 0x74)
	if err := c.Conn.Tx(w, r); err != nil {
		return err
	}
	if len(w) == 2 && w[0] == 0xf3 && len(r) == 2 {
		return c.guard.checkStatus(r[1])
	}
	return nil
}

var _ conn.Conn = (*guardedConn)(nil)

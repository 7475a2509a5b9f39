// Package uart is what the serial sensors (PMS5003, MH-Z19) share: opening a
// port at 9600 8N1 through go.bug.st/serial, and a request-reply exchange
// that finds a fixed-size frame by its header in whatever the line carries,
// within a deadline.
package uart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.bug.st/serial"
)

// Port is the part of a serial port the drivers use; serial.Port has it.
type Port interface {
	io.ReadWriteCloser
	// SetReadTimeout makes Read return 0, nil after t without data.
	SetReadTimeout(t time.Duration) error
	// ResetInputBuffer drops what arrived but was not read yet.
	ResetInputBuffer() error
}

// ErrNoReply means the device sent no complete frame in time.
var ErrNoReply = errors.New("no reply")

// poll is how long one Read waits, so that a cancelled ctx is noticed
// within that time even on a silent line.
const poll = 50 * time.Millisecond

// Open opens the named serial port at baud, 8 data bits, no parity, one
// stop bit.
func Open(name string, baud int) (Port, error) {
	p, err := serial.Open(name, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("open serial port %s: %w (does it exist, is edgepub in the dialout group, and is the serial console off in raspi-config?)", name, err)
	}
	return p, nil
}

// Exchange drops stale input, writes cmd (if any) and returns the first
// frame of size bytes that starts with header and passes check. Bytes before
// the header are skipped, so the exchange resynchronises after line noise or
// a frame cut short. A frame that fails check ends the exchange with check's
// error, unless another header starts inside it. It gives up when wait has passed or ctx is done.
func Exchange(ctx context.Context, p Port, cmd, header []byte, size int, wait time.Duration, check func([]byte) error) ([]byte, error) {
	if err := p.ResetInputBuffer(); err != nil {
		return nil, &lineError{fmt.Errorf("drop stale input: %w (was the adapter unplugged?)", err)}
	}
	if len(cmd) > 0 {
		if _, err := p.Write(cmd); err != nil {
			return nil, &lineError{fmt.Errorf("write command % x: %w (was the adapter unplugged?)", cmd, err)}
		}
	}
	if err := p.SetReadTimeout(poll); err != nil {
		return nil, fmt.Errorf("set read timeout: %w", err)
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var buf []byte
	chunk := make([]byte, 64)
	skipped := 0
	for {
		if i := indexOf(buf, header); i >= 0 {
			skipped += i
			buf = buf[i:]
			if len(buf) >= size {
				frame := buf[:size]
				err := check(frame)
				if err == nil {
					return frame, nil
				}
				// A frame cut short by a reset is followed by a whole
				// one: start again at the next header if there is one.
				next := indexOf(buf[1:size], header)
				if next < 0 {
					return nil, err
				}
				skipped += 1 + next
				buf = buf[1+next:]
				continue
			}
		} else if keep := len(header) - 1; len(buf) > keep {
			// Keep a tail that may be the start of a header.
			skipped += len(buf) - keep
			buf = buf[len(buf)-keep:]
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !time.Now().Before(deadline) {
			if len(buf)+skipped == 0 {
				return nil, fmt.Errorf("%w within %v: the line stayed silent (check that TX and RX are crossed and the sensor has 5 V)", ErrNoReply, wait)
			}
			return nil, fmt.Errorf("%w within %v: %d bytes arrived but no complete frame starting % x (check the baud rate and wiring)", ErrNoReply, wait, len(buf)+skipped, header)
		}
		n, err := p.Read(chunk)
		if err != nil {
			return nil, &lineError{fmt.Errorf("read: %w (was the adapter unplugged?)", err)}
		}
		buf = append(buf, chunk[:n]...)
	}
}

func indexOf(b, header []byte) int {
	for i := 0; i+len(header) <= len(b); i++ {
		match := true
		for j := range header {
			if b[i+j] != header[j] {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

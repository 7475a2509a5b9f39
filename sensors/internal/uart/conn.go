package uart

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Conn is a sensor's serial line. One opened by name is opened again after
// a failed read or write, so a USB adapter that was unplugged and plugged
// back in works again without a restart; setup then runs again too, since
// the sensor has probably lost power. It is safe for concurrent use.
type Conn struct {
	name  string
	baud  int
	setup func(Port) error

	mu   sync.Mutex
	port Port
}

// Dial opens the named port at baud and runs setup on it (nil for none).
func Dial(name string, baud int, setup func(Port) error) (*Conn, error) {
	c := &Conn{name: name, baud: baud, setup: setup}
	if err := c.open(); err != nil {
		return nil, err
	}
	return c, nil
}

// On wraps a port opened by the caller; it is never reopened.
func On(p Port, setup func(Port) error) (*Conn, error) {
	c := &Conn{port: p, setup: setup}
	if setup != nil {
		if err := setup(p); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// open opens the port by name and sets it up; c.mu must be held or c new.
func (c *Conn) open() error {
	p, err := Open(c.name, c.baud)
	if err != nil {
		return err
	}
	if c.setup != nil {
		if err := c.setup(p); err != nil {
			return errors.Join(err, p.Close())
		}
	}
	c.port = p
	return nil
}

// Exchange is the package's Exchange on this line, opening the port first
// if an earlier failure closed it.
func (c *Conn) Exchange(ctx context.Context, cmd, header []byte, size int, wait time.Duration, check func([]byte) error) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.port == nil {
		if err := c.open(); err != nil {
			return nil, fmt.Errorf("reopen: %w", err)
		}
	}
	frame, err := Exchange(ctx, c.port, cmd, header, size, wait, check)
	var lineErr *lineError
	if errors.As(err, &lineErr) && c.name != "" {
		// The handle is dead (EIO after an unplug); a new one is needed.
		_ = c.port.Close()
		c.port = nil
	}
	return frame, err
}

// Close closes the port.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.port == nil {
		return nil
	}
	err := c.port.Close()
	c.port = nil
	return err
}

// String names the port.
func (c *Conn) String() string {
	if c.name == "" {
		return fmt.Sprint(c.port)
	}
	return c.name
}

// lineError is a failed read or write on the port itself, as opposed to a
// device that stayed silent or sent a bad frame.
type lineError struct{ err error }

func (e *lineError) Error() string { return e.err.Error() }
func (e *lineError) Unwrap() error { return e.err }

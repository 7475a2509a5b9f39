// Package uarttest plays a serial sensor on a pseudo-terminal, so the UART
// drivers are tested through go.bug.st/serial and a real tty without
// hardware.
package uarttest

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Step is one exchange the fake device plays: it waits until the bytes in
// Expect arrived, then writes Reply (nothing if nil).
type Step struct {
	Expect []byte
	Reply  []byte
}

// Device is the sensor's side of a pseudo-terminal. The driver opens Path.
type Device struct {
	Path string

	master *os.File
	mu     sync.Mutex
	got    []byte
	errs   []string
	done   chan struct{}
}

// New opens a pseudo-terminal pair and starts playing steps on its master
// side. The test ends with the master closed, which is also how a test
// unplugs the device early (Unplug).
func New(t *testing.T, steps ...Step) *Device {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		t.Fatalf("ptsname: %v", err)
	}
	d := &Device{Path: fmt.Sprintf("/dev/pts/%d", n), master: master, done: make(chan struct{})}
	go d.play(steps)
	t.Cleanup(func() {
		d.Unplug()
		<-d.done
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, e := range d.errs {
			t.Error(e)
		}
	})
	return d
}

// Unplug closes the device's side, as pulling a USB adapter does.
func (d *Device) Unplug() { d.master.Close() }

// Received returns every byte the driver sent.
func (d *Device) Received() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return bytes.Clone(d.got)
}

func (d *Device) play(steps []Step) {
	defer close(d.done)
	buf := make([]byte, 256)
	var pending []byte
	for _, s := range steps {
		for !bytes.Contains(pending, s.Expect) {
			n, err := d.master.Read(buf)
			if err != nil {
				if len(s.Expect) > 0 {
					d.fail("the driver never sent % x (got % x)", s.Expect, pending)
				}
				return
			}
			d.mu.Lock()
			d.got = append(d.got, buf[:n]...)
			d.mu.Unlock()
			pending = append(pending, buf[:n]...)
		}
		i := bytes.Index(pending, s.Expect)
		pending = pending[i+len(s.Expect):]
		if s.Reply != nil {
			if _, err := d.master.Write(s.Reply); err != nil {
				d.fail("write reply: %v", err)
				return
			}
		}
	}
	// Keep reading, so that what the driver sends later is recorded and
	// its writes never block.
	for {
		n, err := d.master.Read(buf)
		if err != nil {
			return
		}
		d.mu.Lock()
		d.got = append(d.got, buf[:n]...)
		d.mu.Unlock()
	}
}

func (d *Device) fail(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.errs = append(d.errs, fmt.Sprintf(format, args...))
}

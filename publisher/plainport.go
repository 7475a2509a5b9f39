package publisher

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrNotTLS is wrapped by the errors of ProbeNotTLS.
var ErrNotTLS = errors.New("the broker port does not speak TLS")

// tutorialTLSPort is the TLS listener of the tutorial's mosquitto.conf.
const tutorialTLSPort = "8883"

// plainConnect is an MQTT 3.1.1 CONNECT with an empty client id and a clean
// session (MQTT 3.1.1, 3.1): any MQTT broker answers it with a CONNACK,
// even one that then refuses it.
var plainConnect = []byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 0}

// ProbeNotTLS finds out whether a failed TLS connection to addr failed
// because the port does not speak TLS at all, so that the certificate is
// not blamed: it returns an error wrapping ErrNotTLS when the port answers
// plain MQTT (a listener such as 1883), or accepts TCP and answers neither
// MQTT nor a TLS handshake within timeout. It returns nil otherwise (the
// port speaks TLS, is closed, or cannot be reached).
func ProbeNotTLS(ctx context.Context, addr string, timeout time.Duration) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	fix := "the tutorial's TLS listener is " + tutorialTLSPort + ": set broker.urls to ssl://" + net.JoinHostPort(host, tutorialTLSPort) + " or to the port of the broker's listener with cafile, certfile and keyfile"
	answer, dialed, err := exchange(ctx, addr, timeout, func(c net.Conn) ([]byte, error) {
		if _, err := c.Write(plainConnect); err != nil {
			return nil, err
		}
		b := make([]byte, 2)
		n, err := c.Read(b)
		return b[:n], err
	})
	switch {
	case err == nil && len(answer) > 0 && answer[0] == 0x20: // CONNACK
		return fmt.Errorf("%w: port %s of %s is plain MQTT (it answered an MQTT CONNECT without TLS); %s", ErrNotTLS, port, host, fix)
	case !dialed || !isTimeout(err):
		return nil // unreachable, or it closed on MQTT bytes as a TLS listener does
	}
	_, dialed, err = exchange(ctx, addr, timeout, func(c net.Conn) ([]byte, error) {
		// Only whether anything answers matters: nothing from this peer
		// is trusted or used.
		return nil, tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: host}).HandshakeContext(ctx)
	})
	if dialed && isTimeout(err) {
		return fmt.Errorf("%w: port %s of %s accepts TCP connections but answers neither a TLS handshake nor MQTT within %v: it is not an MQTT over TLS listener; %s", ErrNotTLS, port, host, timeout, fix)
	}
	return nil
}

// exchange dials addr and runs talk with a deadline of timeout; dialed
// says whether the TCP connection was made.
func exchange(ctx context.Context, addr string, timeout time.Duration, talk func(net.Conn) ([]byte, error)) (answer []byte, dialed bool, err error) {
	c, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	// The deadline bounds the talk, and a timeout is a finding; ctx (edgepub
	// stopping) ends it at once.
	defer context.AfterFunc(ctx, func() { c.Close() })()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, true, err
	}
	answer, err = talk(c)
	return answer, true, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

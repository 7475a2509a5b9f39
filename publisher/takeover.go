package publisher

import (
	"errors"
	"io"
	"strings"
	"time"
)

// takeoverAfter is how many connections in a row the broker must close soon
// after accepting them, without a network error, before edgepub concludes
// that another client uses this identity: a broker closes the older of two
// connections with the same client id, so two clients with one certificate
// take the connection from each other forever.
const takeoverAfter = 3

// takeoverWatch recognises that pattern from the lifetimes of connections.
type takeoverWatch struct {
	short    int
	reported bool
}

// lost records a connection that lived for lived and ended with err. It
// reports true once per episode, when the pattern is established; a
// connection that lasts, or ends for another reason, ends the episode.
func (w *takeoverWatch) lost(lived time.Duration, err error) bool {
	if lived >= stableAfter || !closedByBroker(err) {
		w.short, w.reported = 0, false
		return false
	}
	w.short++
	if w.short >= takeoverAfter && !w.reported {
		w.reported = true
		return true
	}
	return false
}

// closedByBroker reports whether the connection ended because the broker
// closed it in order (EOF), rather than through a timeout, a reset or an
// unreachable network.
func closedByBroker(err error) bool {
	return err != nil && (errors.Is(err, io.EOF) || strings.HasSuffix(err.Error(), "EOF"))
}

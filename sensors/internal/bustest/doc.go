// Package bustest holds the test doubles the driver tests share: an I²C bus
// that replays recorded traffic and then stops answering, a bus with no
// device on it, a bus that ends a context once the driver has started the
// chip working, a Sleep that records waits instead of waiting, a bus that
// notes the driver's waits between transfers on synctest's clock, a bus that
// holds a driver in the middle of a command, and the check that every
// recorded transfer happened.
//
// It complements periph's i2ctest, which it builds on; only tests import it.
package bustest

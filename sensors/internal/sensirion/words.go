package sensirion

import (
	"context"
	"fmt"
	"time"

	"github.com/edgepub/edgepub/sensors/internal/pause"
)

// EncodeWords lays out words as the chip sends them and expects command
// arguments: each big-endian and followed by its CRC.
func EncodeWords(words ...uint16) []byte {
	b := make([]byte, 0, 3*len(words))
	for _, w := range words {
		p := []byte{byte(w >> 8), byte(w)}
		b = append(append(b, p...), CRC8(p))
	}
	return b
}

// DecodeWords checks each word's CRC and returns the words of a reply.
func DecodeWords(b []byte) ([]uint16, error) {
	if len(b)%3 != 0 {
		return nil, fmt.Errorf("reply of %d bytes is not a whole number of 3-byte words", len(b))
	}
	words := make([]uint16, len(b)/3)
	for i := range words {
		chunk := b[3*i : 3*i+3]
		if CRC8(chunk[:2]) != chunk[2] {
			return nil, fmt.Errorf("crc mismatch in word %d (% x): check the wiring and the bus speed", i, chunk)
		}
		words[i] = uint16(chunk[0])<<8 | uint16(chunk[1])
	}
	return words, nil
}

// Conn is the one bus operation the protocol needs; *i2c.Dev has it.
type Conn interface {
	Tx(w, r []byte) error
}

// ReadWords sends cmd, waits exec while the chip executes it (less if ctx
// ends first), then reads n words and checks their CRCs. With n = 0 it only
// sends and waits. The write and the read are separate transfers rather
// than one with a repeated start because the chip does not acknowledge a
// read before it is done.
func ReadWords(ctx context.Context, c Conn, cmd []byte, exec time.Duration, n int) ([]uint16, error) {
	if err := c.Tx(cmd, nil); err != nil {
		return nil, err
	}
	if err := pause.For(ctx, exec); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	b := make([]byte, 3*n)
	if err := c.Tx(nil, b); err != nil {
		return nil, err
	}
	return DecodeWords(b)
}

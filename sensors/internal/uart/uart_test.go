package uart

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// chunkPort hands out its chunks one Read at a time, then reads nothing
// (a timeout), as a serial line does between bursts.
type chunkPort struct {
	chunks  [][]byte
	written bytes.Buffer
	resets  int
}

func (p *chunkPort) Read(b []byte) (int, error) {
	if len(p.chunks) == 0 {
		time.Sleep(time.Millisecond) // the read timeout, shortened
		return 0, nil
	}
	n := copy(b, p.chunks[0])
	p.chunks[0] = p.chunks[0][n:]
	if len(p.chunks[0]) == 0 {
		p.chunks = p.chunks[1:]
	}
	return n, nil
}

func (p *chunkPort) Write(b []byte) (int, error)        { return p.written.Write(b) }
func (p *chunkPort) Close() error                       { return nil }
func (p *chunkPort) SetReadTimeout(time.Duration) error { return nil }
func (p *chunkPort) ResetInputBuffer() error            { p.resets++; return nil }

var errSum = errors.New("bad sum")

// sumCheck accepts a 4-byte frame AA 55 x y with y == x.
func sumCheck(f []byte) error {
	if f[2] != f[3] {
		return errSum
	}
	return nil
}

func TestExchange(t *testing.T) {
	header := []byte{0xAA, 0x55}
	for _, c := range []struct {
		name   string
		chunks [][]byte
		want   []byte
		err    error
		text   string
	}{
		{"one read", [][]byte{{0xAA, 0x55, 7, 7}}, []byte{0xAA, 0x55, 7, 7}, nil, ""},
		{"header split across reads", [][]byte{{0x00, 0xAA}, {0x55, 7}, {7}}, []byte{0xAA, 0x55, 7, 7}, nil, ""},
		{"cut-short frame, then a whole one", [][]byte{{0xAA, 0x55, 0xAA, 0x55, 9, 9}}, []byte{0xAA, 0x55, 9, 9}, nil, ""},
		{"bad sum", [][]byte{{0xAA, 0x55, 7, 8}}, nil, errSum, ""},
		{"silent", nil, nil, ErrNoReply, "silent"},
		{"garbage only", [][]byte{{1, 2, 3, 0xAA}}, nil, ErrNoReply, "4 bytes arrived"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &chunkPort{chunks: c.chunks}
			got, err := Exchange(context.Background(), p, []byte{0x01}, header, 4, 30*time.Millisecond, sumCheck)
			if c.err != nil {
				if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.text) {
					t.Fatalf("Exchange = % x, %v; want %v (%q)", got, err, c.err, c.text)
				}
				return
			}
			if err != nil || !bytes.Equal(got, c.want) {
				t.Fatalf("Exchange = % x, %v; want % x", got, err, c.want)
			}
			if p.resets != 1 || !bytes.Equal(p.written.Bytes(), []byte{0x01}) {
				t.Errorf("resets %d, wrote % x; want stale input dropped before the command", p.resets, p.written.Bytes())
			}
		})
	}
}

func TestExchangeStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Exchange(ctx, &chunkPort{}, nil, []byte{0xAA}, 2, time.Hour, sumCheck); !errors.Is(err, context.Canceled) {
		t.Fatalf("Exchange = %v, want context.Canceled", err)
	}
}

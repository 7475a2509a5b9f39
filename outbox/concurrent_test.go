package outbox

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestConcurrentAppendPendingAck runs the daemon's, the publisher's, Run's
// and a status reader's goroutines at once (under -race in CI) and checks
// that every reading is delivered, in seq order, with acks out of order.
func TestConcurrentAppendPendingAck(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(dir, &Opts{SyncWindow: 40 * time.Millisecond, SegmentBytes: 16 << 10, MaxBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { o.Run(ctx) })
	wg.Go(func() {
		for ctx.Err() == nil {
			o.Stats()
			time.Sleep(time.Millisecond)
		}
	})

	const n = 3000
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		for i := range n {
			if _, err := o.Append(time.Now(), encodeSeq); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
			if i%100 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()

	// The publisher: a window of in-flight readings acked in random order.
	var after uint64
	var inflight []uint64
	delivered := make(map[uint64]bool)
	deadline := time.After(20 * time.Second)
	for len(delivered) < n {
		recs, err := o.Pending(after, 32-len(inflight))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Seq <= after {
				t.Fatalf("Pending(%d) returned seq %d", after, r.Seq)
			}
			if string(r.Payload) != string(payloadFor(r.Seq)) {
				t.Fatalf("seq %d has payload %q", r.Seq, r.Payload)
			}
			after = r.Seq
			delivered[r.Seq] = true
			inflight = append(inflight, r.Seq)
		}
		rand.Shuffle(len(inflight), func(i, j int) { inflight[i], inflight[j] = inflight[j], inflight[i] })
		for len(inflight) > 16 || (len(recs) == 0 && len(inflight) > 0) {
			o.Ack(inflight[0])
			inflight = inflight[1:]
		}
		if len(recs) == 0 {
			select {
			case <-o.Notify():
			case <-time.After(10 * time.Millisecond):
			case <-deadline:
				t.Fatalf("delivered %d of %d readings", len(delivered), n)
			}
		}
	}
	for _, seq := range inflight {
		o.Ack(seq)
	}
	<-appended
	cancel()
	wg.Wait()
	if after != n {
		t.Fatalf("last delivered seq = %d, want %d", after, n)
	}
	if st := o.Stats(); st.Backlog != 0 || st.Dropped != 0 || st.LastSeq != n {
		t.Fatalf("Stats = %+v", st)
	}
}

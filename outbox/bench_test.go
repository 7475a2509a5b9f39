package outbox

import (
	"context"
	"testing"
	"time"
)

func benchOutbox(b *testing.B, opts *Opts) *Outbox {
	b.Helper()
	o, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { o.Close() })
	return o
}

// BenchmarkAppendAck is the healthy path: every reading is acked right
// after it is written, and Run's work is done every 1000 readings.
func BenchmarkAppendAck(b *testing.B) {
	o := benchOutbox(b, nil)
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		seq, err := o.Append(now, encodeSeq)
		if err != nil {
			b.Fatal(err)
		}
		o.Ack(seq)
		if i%1000 == 0 {
			o.tick()
		}
	}
}

// BenchmarkAppendOutage appends without acks, as during a broker outage;
// MaxBytes drops the oldest once it is reached.
func BenchmarkAppendOutage(b *testing.B) {
	o := benchOutbox(b, nil)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Append(now, encodeSeq); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPendingBacklog reads a 100,000-reading backlog in the batches of
// 100 a publisher window asks for.
func BenchmarkPendingBacklog(b *testing.B) {
	o := benchOutbox(b, nil)
	now := time.Now()
	for range 100000 {
		o.Append(now, encodeSeq)
	}
	b.ReportAllocs()
	var after uint64
	for b.Loop() {
		recs, err := o.Pending(after, 100)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) == 0 {
			after = 0
			continue
		}
		after = recs[len(recs)-1].Seq
	}
}

// BenchmarkOpenBacklog is recovery: indexing a 100,000-reading backlog.
func BenchmarkOpenBacklog(b *testing.B) {
	dir := b.TempDir()
	o, err := Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for range 100000 {
		o.Append(now, encodeSeq)
	}
	o.Close()
	b.ReportAllocs()
	for b.Loop() {
		o, err := Open(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		if o.Stats().Backlog != 100000 {
			b.Fatal("backlog lost")
		}
		o.Close()
	}
}

// BenchmarkConcurrentAppendAck runs Append and the publisher's Pending and
// Ack on separate goroutines, with Run, as in the daemon.
func BenchmarkConcurrentAppendAck(b *testing.B) {
	o := benchOutbox(b, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go o.Run(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var after uint64
		for ctx.Err() == nil {
			recs, _ := o.Pending(after, 64)
			for _, r := range recs {
				o.Ack(r.Seq)
				after = r.Seq
			}
			if len(recs) == 0 {
				select {
				case <-o.Notify():
				case <-ctx.Done():
				}
			}
		}
	}()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Append(now, encodeSeq); err != nil {
			b.Fatal(err)
		}
	}
	cancel()
	<-done
}

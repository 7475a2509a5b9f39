package outbox_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/edgepub/edgepub/outbox"
)

// A daemon appends readings; the publisher takes them in seq order and acks
// each one when the broker's PUBACK arrives.
func Example() {
	dir, err := os.MkdirTemp("", "outbox-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ob, err := outbox.Open(filepath.Join(dir, "outbox"), &outbox.Opts{MaxBytes: 16 << 20})
	if err != nil {
		log.Fatal(err) // only for invalid options
	}
	defer ob.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ob.Run(ctx)

	for _, temp := range []float64{21.4, 21.5} {
		_, err := ob.Append(time.Now(), func(seq uint64) ([]byte, error) {
			return fmt.Appendf(nil, `{"seq":%d,"temperature_c":%.1f}`, seq, temp), nil
		})
		if err != nil {
			log.Print(err)
		}
	}

	recs, err := ob.Pending(0, 100)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Printf("publish %s\n", r.Payload)
		ob.Ack(r.Seq) // on PUBACK
	}
	fmt.Println("backlog:", ob.Stats().Backlog)
	// Output:
	// publish {"seq":1,"temperature_c":21.4}
	// publish {"seq":2,"temperature_c":21.5}
	// backlog: 0
}

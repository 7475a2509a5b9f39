package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/edgepub/edgepub/outbox"
)

// killRounds measures what a SIGKILL costs in duplicates: a child process
// appends at killRate and acks each reading ackDelay after it was taken
// from Pending, with at most window in flight, as the publisher does. It
// reports every append and ack on stdout. After killAfter the parent kills
// it, opens the outbox and counts the pending readings that had been acked
// (resent) and the appended, unacked ones that are missing (lost: must be
// 0). The next round's child resends the backlog first, like edgepub.
func killRounds(c config, dir string) error {
	fmt.Printf("kill: %d rounds of %v at %.0f/s, window %d, acks %v after send, then SIGKILL; dir %s\n",
		c.killRounds, c.killAfter, c.killRate, c.window, c.ackDelay, dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	appended := map[uint64]bool{}
	acked := map[uint64]bool{}
	var totalResent, totalInFlight, totalLost int
	for round := range c.killRounds {
		cmd := exec.Command(self, "-kill-child", dir, "-kill-rate", fmt.Sprint(c.killRate),
			"-window", fmt.Sprint(c.window), "-ack-delay", c.ackDelay.String())
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		events := make(chan error, 1)
		go func() { events <- readEvents(out, appended, acked) }()
		time.Sleep(c.killAfter)
		cmd.Process.Signal(syscall.SIGKILL)
		if err := <-events; err != nil {
			return err
		}
		cmd.Wait()

		o, err := outbox.Open(dir, nil)
		if err != nil {
			return err
		}
		recs, err := o.Pending(0, 1<<30)
		if err != nil {
			return err
		}
		pending := map[uint64]bool{}
		resent := 0
		for _, r := range recs {
			pending[r.Seq] = true
			if acked[r.Seq] {
				resent++
			}
		}
		lost := 0
		for seq := range appended {
			if !acked[seq] && !pending[seq] {
				lost++
			}
		}
		st := o.Stats()
		if err := o.Close(); err != nil {
			return err
		}
		inFlight := len(recs) - resent
		fmt.Printf("kill round %d: appended=%d acked=%d after kill: backlog=%d resent_acked=%d unacked=%d lost=%d segments=%d ack_marks_lost=%d\n",
			round+1, len(appended), len(acked), len(recs), resent, inFlight, lost, st.Segments, st.OpenDamage.AckMarksLost)
		totalResent += resent
		totalInFlight += inFlight
		totalLost += lost
	}
	fmt.Printf("kill: %d kills, acked readings resent=%d (%.1f per kill), unacked kept=%d, lost=%d\n",
		c.killRounds, totalResent, float64(totalResent)/float64(c.killRounds), totalInFlight, totalLost)
	return nil
}

// readEvents reads the child's "a SEQ" (appended) and "k SEQ" (acked) lines
// until it dies.
func readEvents(r io.Reader, appended, acked map[uint64]bool) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 3 {
			continue // cut short by the kill
		}
		seq, err := strconv.ParseUint(line[2:], 10, 64)
		if err != nil {
			continue
		}
		switch line[0] {
		case 'a':
			appended[seq] = true
		case 'k':
			acked[seq] = true
		}
	}
	return nil
}

// killChild is the process that gets killed: the daemon's append loop and
// the publisher's window, on the outbox in dir. Each event is written
// unbuffered after it happened, so the parent never counts an ack the
// outbox did not see.
func killChild(c config, dir string) error {
	o, err := outbox.Open(dir, nil)
	if err != nil {
		return err
	}
	if err := o.Stats().DiskErr; err != nil {
		return err
	}
	var outMu sync.Mutex
	emit := func(kind byte, seq uint64) {
		outMu.Lock()
		defer outMu.Unlock()
		os.Stdout.Write(strconv.AppendUint([]byte{kind, ' '}, seq, 10))
		os.Stdout.Write([]byte{'\n'})
	}
	ctx := context.Background()
	go o.Run(ctx)
	slots := make(chan struct{}, c.window)
	go func() {
		var after uint64
		for {
			recs, _ := o.Pending(after, cap(slots)-len(slots))
			for _, r := range recs {
				slots <- struct{}{}
				seq := r.Seq
				time.AfterFunc(c.ackDelay, func() {
					o.Ack(seq)
					emit('k', seq)
					<-slots
				})
				after = seq
			}
			if len(recs) == 0 {
				select {
				case <-o.Notify():
				case <-time.After(time.Millisecond):
				}
			}
		}
	}()
	pace(1<<30, c.killRate, func(int) {
		seq, err := o.Append(time.Now(), func(seq uint64) ([]byte, error) { return payload(seq, time.Now()), nil })
		if err == nil {
			emit('a', seq)
		}
	})
	return nil
}

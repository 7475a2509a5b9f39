//go:build linux

package packaging

// The power-cut test runs only inside the rig packaging/test/vm.sh builds
// (`make test-vm`): a Debian 12 image with the package installed, Debian's
// kernel and its initrd in EDGEPUB_VM_DIR. Each boot gets its plan on the
// kernel command line (vmtest.*); the guest's agent writes its clock every
// 20 ms and its events to /dev/hvc1, the subscriber's stream goes to
// /dev/hvc0 and edgepub's journal to /dev/hvc2, each into a file here. The
// plug is SIGKILL on qemu: the guest's page cache is gone, the files are not.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/outbox"
	"github.com/edgepub/edgepub/sensors"
)

const (
	// vmReadingEvery is the simulated sensor's interval in the VM's
	// configuration (vm.sh): 20 readings/s, what one TCG vCPU keeps up with.
	vmReadingEvery = 50 * time.Millisecond
	// vmCutSlack is what a lost reading may exceed sync_window by: one
	// reading interval (the reading after the newest survivor may have been
	// taken just inside the window) and one clock mark (the cut came after
	// the last mark, before the next).
	vmCutSlack = vmReadingEvery + vmMarkEvery
	// vmMarkEvery is the agent's clock mark interval.
	vmMarkEvery = 20 * time.Millisecond
	// vmLeaseStep is outbox.leaseStep: after a cut seq continues at most
	// this far past the last seq handed out.
	vmLeaseStep = 10000
	// vmBootLimit bounds a boot to the event the host waits for; only a
	// broken guest hits it, the cuts themselves are placed in guest time.
	vmBootLimit = 5 * time.Minute
)

func TestVMPowerCuts(t *testing.T) {
	dir := os.Getenv("EDGEPUB_VM_DIR")
	if dir == "" {
		t.Skip("runs in the VM rig: make test-vm (packaging/test/vm.sh)")
	}
	rig := &vmRig{t: t, dir: dir, accel: os.Getenv("EDGEPUB_VM_ACCEL")}
	if os.Getenv("EDGEPUB_VM_REANALYSE") == "1" {
		// The analysis alone, of a run kept with KEEP=1.
		rig.check(rig.reload())
		return
	}
	runs := []struct {
		window time.Duration
		param  string
		cycles string
	}{
		{time.Second, "1s", os.Getenv("EDGEPUB_VM_CYCLES")},
		{10 * time.Millisecond, "10ms", os.Getenv("EDGEPUB_VM_CYCLES_FAST")},
	}
	var boots []*vmBoot
	for _, run := range runs {
		n, err := strconv.Atoi(run.cycles)
		if err != nil {
			n = 10
		}
		for range n {
			boots = append(boots, rig.cycle(run.window, run.param, len(boots) == 0))
		}
	}
	boots = append(boots, rig.drain())
	rig.check(boots)
}

func (r *vmRig) check(boots []*vmBoot) {
	a := analyse(boots)
	report := a.report()
	r.t.Log("\n" + report)
	if err := os.WriteFile(filepath.Join(r.dir, "report.txt"), []byte(report), 0o644); err != nil {
		r.t.Error(err)
	}
	for _, f := range a.failures {
		r.t.Error(f)
	}
}

// reload reads the boots of a finished run from its files.
func (r *vmRig) reload() []*vmBoot {
	var boots []*vmBoot
	for n := 1; ; n++ {
		p := func(name string) string { return filepath.Join(r.dir, fmt.Sprintf("boot-%03d.%s", n, name)) }
		cmdline, err := os.ReadFile(p("cmdline"))
		if err != nil {
			break
		}
		b := &vmBoot{n: n, window: time.Second, plan: "drain"}
		for _, f := range strings.Fields(string(cmdline)) {
			switch k, v, _ := strings.Cut(f, "="); k {
			case "vmtest.sync_window":
				b.window, _ = time.ParseDuration(v)
			case "vmtest.plan":
				b.plan = v
			}
		}
		r.read(b, vmFiles{sub: p("sub"), marks: p("marks"), journal: p("journal"), outbox: p("outbox")})
		if b.plan != "drain" {
			b.cut = b.lastMark()
		}
		if e, ok := b.event("stop-begin"); ok {
			b.stopAt = e.at
		}
		boots = append(boots, b)
	}
	if len(boots) == 0 {
		r.t.Fatalf("no boot-*.cmdline in %s", r.dir)
	}
	return boots
}

type vmRig struct {
	t     *testing.T
	dir   string
	accel string
	n     int
}

// vmBoot is what the host saw of one boot.
type vmBoot struct {
	n      int
	window time.Duration
	plan   string
	// stopAt is when the agent began to stop the broker (guest time);
	// zero if it did not.
	stopAt time.Time
	// cut is the guest's last clock mark before the plug was pulled;
	// zero for the drain, which powers off cleanly.
	cut      time.Time
	first    time.Time // the first mark
	events   []vmEvent
	readings []vmReading
	journal  []map[string]any
	// accepted is every reading edgepub appended to its outbox in this
	// boot, from the guest's copy of the page cache (vmtest-outbox-copy);
	// empty for runs made before that copy existed.
	accepted []vmReading
}

type vmEvent struct {
	at   time.Time
	name string
	args string
}

type vmReading struct {
	seq     uint64
	at      time.Time
	payload string
}

// cycle boots the VM, lets it publish, and pulls the plug at a random
// moment: in two of three cycles after the agent began to stop the broker,
// so that readings wait in the outbox.
func (r *vmRig) cycle(window time.Duration, param string, first bool) *vmBoot {
	t := r.t
	cmdline := "vmtest.sync_window=" + param
	stop := rand.N(3) > 0
	if stop {
		cmdline += fmt.Sprintf(" vmtest.stop=%.1f", 0.5+rand.Float64()*2)
	}
	anchor := "connected"
	if stop {
		anchor = "stop-begin"
	}
	// Up to 4 s after the anchor; a broker stop takes a moment, and cuts
	// during it are wanted too.
	delay := time.Duration(rand.Int64N(int64(4 * time.Second)))
	plan := fmt.Sprintf("%s+%.1fs", anchor, delay.Seconds())
	b, cmd, files := r.start(cmdline + " vmtest.plan=" + plan)
	b.window, b.plan = window, plan
	deadline := time.Now().Add(vmBootLimit)
	var target time.Time
	for time.Now().Before(deadline) {
		r.read(b, files)
		if target.IsZero() {
			if e, ok := b.event(anchor); ok {
				target = e.at.Add(delay)
			} else if _, failed := b.event("edgepub-failed"); failed {
				break
			}
		} else if b.lastMark().After(target) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	r.read(b, files)
	if target.IsZero() {
		t.Fatalf("boot %d never reached %q (serial console: %s)", b.n, anchor, files.serial)
	}
	b.cut = b.lastMark()
	if e, ok := b.event("stop-begin"); ok {
		b.stopAt = e.at
	}
	if first {
		if e, ok := b.event("statedir"); !ok || e.args != "edgepub:700 edgepub" {
			t.Errorf("first boot: /var/lib/edgepub owner:mode and daemon user = %q, want \"edgepub:700 edgepub\" (StateDirectory=, User=)", e.args)
		}
	}
	t.Logf("boot %d (%s, sync_window %v): cut at %s, %d readings seen", b.n, b.plan, window, b.cut.Format("15:04:05.000"), len(b.readings))
	return b
}

// drain boots once more with the broker up. The agent first lets the
// watchdog kill a stalled edgepub (systemd restarts it; seq goes on without
// a gap, which analyse checks), then waits until the backlog is delivered,
// stops edgepub cleanly and powers off.
func (r *vmRig) drain() *vmBoot {
	b, cmd, files := r.start("vmtest.watchdog=1 vmtest.drain=1")
	b.plan = "drain"
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(vmBootLimit):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
	r.read(b, files)
	if e, ok := b.event("watchdog-restart"); !ok || e.args == "0" {
		r.t.Errorf("drain boot %d: a stalled edgepub was not restarted by the watchdog (event %+v)", b.n, e)
	}
	if e, ok := b.event("drained"); !ok || e.args != "success" {
		r.t.Errorf("drain boot %d: no clean stop of edgepub (event %+v); serial console: %s", b.n, e, files.serial)
	}
	r.checkThermalZone(b)
	if e, ok := b.event("iio-dummy"); ok {
		r.t.Logf("iio_dummy on this kernel: %q (empty: it loads)", e.args)
	}
	return b
}

type vmFiles struct{ sub, marks, journal, outbox, serial string }

func (r *vmRig) start(cmdline string) (*vmBoot, *exec.Cmd, vmFiles) {
	r.n++
	b := &vmBoot{n: r.n}
	p := func(name string) string { return filepath.Join(r.dir, fmt.Sprintf("boot-%03d.%s", r.n, name)) }
	f := vmFiles{sub: p("sub"), marks: p("marks"), journal: p("journal"), outbox: p("outbox"), serial: p("serial")}
	if err := os.WriteFile(p("cmdline"), []byte(cmdline), 0o644); err != nil {
		r.t.Fatal(err)
	}
	// cache=none: the guest sees a disk with a volatile write cache and
	// must flush it, as on an SD card, and qemu writes around the host's
	// page cache, so a guest fsync waits for the host's disk. Killing qemu
	// then loses the guest's page cache and the requests in flight.
	args := []string{
		"-accel", r.accel, "-m", "768", "-smp", os.Getenv("EDGEPUB_VM_SMP"),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", filepath.Join(r.dir, "vmlinuz"), "-initrd", filepath.Join(r.dir, "initrd.img"),
		"-append", "root=/dev/vda rw console=ttyS0 quiet panic=-1 " + cmdline,
		"-drive", "file=" + filepath.Join(r.dir, "disk.img") + ",if=virtio,format=raw,cache=none,aio=threads",
		"-serial", "file:" + f.serial,
		"-device", "virtio-serial-pci",
		"-chardev", "file,id=sub,path=" + f.sub, "-device", "virtconsole,chardev=sub",
		"-chardev", "file,id=marks,path=" + f.marks, "-device", "virtconsole,chardev=marks",
		"-chardev", "file,id=journal,path=" + f.journal, "-device", "virtconsole,chardev=journal",
		"-chardev", "file,id=outbox,path=" + f.outbox, "-device", "virtconsole,chardev=outbox",
	}
	cmd := exec.Command("qemu-system-x86_64", args...)
	cmd.Stderr = os.Stderr
	// No VM outlives the test, also when it is killed or times out.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start qemu: %v", err)
	}
	return b, cmd, f
}

// read parses the boot's files again from the start.
func (r *vmRig) read(b *vmBoot, f vmFiles) {
	b.events, b.readings, b.journal, b.accepted = nil, nil, nil, nil
	b.first = time.Time{}
	eachLine(f.marks, func(line string) {
		kind, rest, _ := strings.Cut(line, " ")
		stamp, rest, _ := strings.Cut(rest, " ")
		at, ok := parseEpoch(stamp)
		if !ok {
			return
		}
		if b.first.IsZero() {
			b.first = at
		}
		switch kind {
		case "m":
			b.events = append(b.events, vmEvent{at: at, name: "mark"})
		case "e":
			name, args, _ := strings.Cut(rest, " ")
			b.events = append(b.events, vmEvent{at: at, name: name, args: args})
		}
	})
	eachLine(f.sub, func(line string) {
		_, payload, ok := strings.Cut(line, " ")
		if !ok {
			return
		}
		var m struct {
			Seq  uint64    `json:"seq"`
			Time time.Time `json:"time"`
		}
		if json.Unmarshal([]byte(payload), &m) != nil || m.Seq == 0 {
			return // a line torn by the cut
		}
		b.readings = append(b.readings, vmReading{seq: m.Seq, at: m.Time, payload: payload})
	})
	eachLine(f.outbox, func(line string) {
		seq, stamp, _ := strings.Cut(line, " ")
		n, err1 := strconv.ParseUint(seq, 10, 64)
		at, err2 := time.Parse(message.TimeLayout, stamp)
		if err1 == nil && err2 == nil {
			b.accepted = append(b.accepted, vmReading{seq: n, at: at})
		}
	})
	eachLine(f.journal, func(line string) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			b.journal = append(b.journal, rec)
		}
	})
}

func eachLine(path string, fn func(string)) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	// The last line may be incomplete until the next newline.
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fn(strings.TrimRight(sc.Text(), "\r"))
	}
}

// parseEpoch reads bash's $EPOCHREALTIME, seconds with microseconds.
func parseEpoch(s string) (time.Time, bool) {
	sec, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 6 {
		return time.Time{}, false
	}
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, false
	}
	return time.Unix(a, b*1000), true
}

func (b *vmBoot) event(name string) (vmEvent, bool) {
	for _, e := range b.events {
		if e.name == name {
			return e, true
		}
	}
	return vmEvent{}, false
}

func (b *vmBoot) lastMark() time.Time {
	for i := len(b.events) - 1; i >= 0; i-- {
		if b.events[i].name == "mark" {
			return b.events[i].at
		}
	}
	return time.Time{}
}

// journalWith returns the boot's journal records with the message id.
func (b *vmBoot) journalWith(id string) []map[string]any {
	var out []map[string]any
	for _, rec := range b.journal {
		if rec["MESSAGE_ID"] == id {
			out = append(out, rec)
		}
	}
	return out
}

// vmCut is what one power cut did, from the host's stream.
type vmCut struct {
	boot *vmBoot
	// taken counts the readings taken in the boot that reached the
	// subscriber, before or after the cut.
	taken int
	// newest is the newest such reading; age is the cut minus its time.
	newest vmReading
	age    time.Duration
	// live is the age at the cut of the newest reading that reached the
	// subscriber before the cut: the delivery delay while the broker is
	// up, the time since the broker stopped otherwise.
	live time.Duration
	// lost estimates the readings lost at the cut from the sensor's
	// cadence: those that would have followed newest.
	lost int
	// brokerLost counts the readings after newest that the next start
	// found acknowledged on disk: the broker had them, and they died in
	// its memory at the cut before it passed them on. Not edgepub's loss.
	brokerLost int
	// exact is set when the boot's accepted readings are known: lost then
	// counts the readings edgepub accepted that neither reached the
	// subscriber nor were acknowledged, and oldestLost is the age at the
	// cut of the oldest of them.
	exact      bool
	oldestLost time.Duration
	// jump is the seq gap the next boot declared in its journal.
	jump    uint64
	damaged bool
	// gap is how many seqs a consumer saw skipped: the next boot's first
	// seq after the highest seen so far. jump, the MsgSeqJumped record's
	// by, counts from the last seq on disk instead, which is further back
	// when readings were acknowledged and never synced before the cut.
	gap uint64
	// slowSync is the longest fsync the boot logged as slower than the
	// window (only the first of each stretch is logged); beyond is set
	// when the loss went beyond the window after it.
	slowSync time.Duration
	beyond   bool
}

type vmAnalysis struct {
	cuts      []vmCut
	readings  int
	jumps     []uint64
	slowSyncs int
	failures  []string
}

// analyse checks the stream against the outbox's promises: no seq with two
// payloads; no seq of a later boot at or below one of an earlier boot; in
// every boot the readings that survived are contiguous in seq, and the
// newest of them is at most sync_window (plus vmCutSlack) older than the
// cut; after every cut edgepub started again, and logged its seq jump.
func analyse(boots []*vmBoot) *vmAnalysis {
	a := &vmAnalysis{}
	fail := func(format string, args ...any) { a.failures = append(a.failures, fmt.Sprintf(format, args...)) }
	bySeq := map[uint64]vmReading{}
	for _, b := range boots {
		for _, r := range b.readings {
			if prev, ok := bySeq[r.seq]; ok && prev.payload != r.payload {
				fail("seq %d delivered with two payloads:\n  %s\n  %s", r.seq, prev.payload, r.payload)
			}
			bySeq[r.seq] = r
		}
	}
	a.readings = len(bySeq)
	seqs := make([]uint64, 0, len(bySeq))
	for s := range bySeq {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)

	// highest is the newest seq of the boots before; handedOut bounds the
	// seqs they may have handed out, lost readings included.
	var highest, handedOut uint64
	for i, b := range boots {
		if i > 0 {
			if len(b.journalWith(logging.MsgStarted)) == 0 {
				fail("boot %d: edgepub did not start after the cut (no MsgStarted record)", b.n)
			}
			if _, ok := b.event("edgepub-failed"); ok {
				fail("boot %d: edgepub.service failed after the cut", b.n)
			}
		}
		a.slowSyncs += len(b.journalWith(logging.MsgSlowSync))
		// The readings taken in this boot: after its first clock mark
		// and before the next boot's.
		var end time.Time
		if i+1 < len(boots) {
			end = boots[i+1].first
		}
		var mine []vmReading
		for _, s := range seqs {
			r := bySeq[s]
			if !r.at.Before(b.first) && (end.IsZero() || r.at.Before(end)) {
				mine = append(mine, r)
			}
		}
		if len(mine) == 0 {
			if !b.cut.IsZero() {
				fail("boot %d: no reading taken in it reached the subscriber", b.n)
			}
			continue
		}
		if i > 0 && len(a.cuts) > 0 && mine[0].seq > highest {
			a.cuts[len(a.cuts)-1].gap = mine[0].seq - highest - 1
			if mine[0].seq > handedOut+vmLeaseStep {
				fail("boot %d: seq continued at %d, more than %d past the last seq handed out (at most %d)", b.n, mine[0].seq, vmLeaseStep, handedOut)
			}
		}
		if mine[0].seq <= highest {
			fail("boot %d: seq %d reused or gone back (seq %d was seen before)", b.n, mine[0].seq, highest)
		} else if mine[0].seq <= handedOut {
			fail("boot %d: seq continued at %d, where readings lost at the cut may have had seqs up to %d", b.n, mine[0].seq, handedOut)
		}
		if i > 0 && len(a.cuts) > 0 {
			jumps := b.journalWith(logging.MsgSeqJumped)
			if len(jumps) == 0 {
				fail("boot %d: seq continued at %d without a MsgSeqJumped record after a power cut", b.n, mine[0].seq)
			} else if by, err := strconv.ParseUint(fmt.Sprint(jumps[0]["BY"]), 10, 64); err == nil {
				a.jumps = append(a.jumps, by)
				a.cuts[len(a.cuts)-1].jump = by
			}
			a.cuts[len(a.cuts)-1].damaged = len(b.journalWith(logging.MsgOutboxDamaged)) > 0
		}
		// Holes: a reading lost while a newer one of the same boot
		// survived must have been within the window of the cut too.
		for j := 1; j < len(mine); j++ {
			if mine[j].seq != mine[j-1].seq+1 && !b.cut.IsZero() {
				if age := b.cut.Sub(mine[j].at); age > b.window+vmCutSlack {
					fail("boot %d: seqs %d…%d lost, taken before %s, %v before the cut (sync_window %v)",
						b.n, mine[j-1].seq+1, mine[j].seq-1, mine[j].at.Format("15:04:05.000"), age.Round(time.Millisecond), b.window)
				}
			}
		}
		highest = mine[len(mine)-1].seq
		handedOut = highest
		if b.cut.IsZero() {
			continue
		}
		newest := mine[len(mine)-1]
		c := vmCut{boot: b, taken: len(mine), newest: newest, age: b.cut.Sub(newest.at)}
		var acked uint64
		if i+1 < len(boots) {
			acked, _ = ackedOnDisk(boots[i+1])
		}
		if acked > newest.seq {
			c.brokerLost = int(acked - newest.seq)
		}
		c.lost = max(0, int(c.age/vmReadingEvery)-c.brokerLost)
		if len(b.accepted) > 0 {
			c.exact, c.lost, c.brokerLost = true, 0, 0
			for _, r := range b.accepted {
				switch _, seen := bySeq[r.seq]; {
				case seen || r.at.Before(b.first):
				case r.seq <= acked:
					c.brokerLost++
				default:
					c.lost++
					c.oldestLost = max(c.oldestLost, b.cut.Sub(r.at))
					handedOut = max(handedOut, r.seq)
				}
			}
		}
		c.live = -1
		for _, r := range b.readings {
			if !r.at.Before(b.first) && (c.live < 0 || b.cut.Sub(r.at) < c.live) {
				c.live = b.cut.Sub(r.at)
			}
		}
		if !c.exact {
			// The lost readings' seqs are not in the stream: bound them
			// by twice the sensor's rate, as a ticker catching up after a
			// stall may take readings closer together.
			handedOut += uint64(2*c.lost + 2)
		}
		for _, rec := range b.journalWith(logging.MsgSlowSync) {
			// journald gets durations in microseconds.
			if us, err := strconv.ParseInt(fmt.Sprint(rec["TOOK"]), 10, 64); err == nil {
				c.slowSync = max(c.slowSync, time.Duration(us)*time.Microsecond)
			}
		}
		// Without the accepted readings, the newest survivor's age stands
		// for the oldest loss: readings are taken at least vmReadingEvery
		// apart (the runner's grid skips missed reads), so the newest the
		// broker had was taken at least this much later than newest. It
		// over-reports when edgepub took no readings for a while.
		oldestLost, limit := c.age-time.Duration(c.brokerLost)*vmReadingEvery, b.window+vmCutSlack
		if c.exact {
			// The last mark came at most one mark before the cut.
			oldestLost, limit = c.oldestLost, b.window+vmMarkEvery
		}
		if oldestLost > limit {
			// The README's exception: an fsync slower than the window
			// stretches it, and edgepub says so before the cut.
			if c.slowSync > 0 {
				c.beyond = true
			} else {
				if c.exact {
					fail("boot %d (%s): %d readings edgepub accepted were lost, the oldest taken %v before the cut, beyond sync_window %v, and no slow fsync was logged",
						b.n, b.plan, c.lost, c.oldestLost.Round(time.Millisecond), b.window)
				} else {
					fail("boot %d (%s): the newest reading that survived the cut was taken %v before it, beyond sync_window %v, and no slow fsync was logged",
						b.n, b.plan, c.age.Round(time.Millisecond), b.window)
				}
			}
		}
		a.cuts = append(a.cuts, c)
	}
	return a
}

// ackedOnDisk is the newest seq the outbox found acknowledged on disk when
// it opened in boot b: the last seq it recovered (its MsgSeqJumped record's
// from, minus one) less its backlog, because acknowledgements come in seq
// order and the backlog is the newest readings.
func ackedOnDisk(b *vmBoot) (uint64, bool) {
	jumps, starts := b.journalWith(logging.MsgSeqJumped), b.journalWith(logging.MsgStarted)
	if len(jumps) == 0 || len(starts) == 0 {
		return 0, false
	}
	from, err1 := strconv.ParseUint(fmt.Sprint(jumps[0]["FROM"]), 10, 64)
	backlog, err2 := strconv.ParseUint(fmt.Sprint(starts[0]["BACKLOG"]), 10, 64)
	if err1 != nil || err2 != nil || from < 1+backlog {
		return 0, false
	}
	return from - 1 - backlog, true
}

func (a *vmAnalysis) report() string {
	var w strings.Builder
	fmt.Fprintf(&w, "%-4s %-7s %-7s %-22s %-9s %8s %9s %10s %6s %11s %6s %6s %s\n", "boot", "window", "ready", "plan", "cut after", "readings", "live age", "newest age", "lost", "oldest lost", "jump", "gap", "notes")
	for _, c := range a.cuts {
		since := "-"
		if !c.boot.stopAt.IsZero() {
			since = "stop+" + c.boot.cut.Sub(c.boot.stopAt).Round(100*time.Millisecond).String()
		}
		damage := ""
		if c.damaged {
			damage = "damage logged"
		}
		if c.slowSync > 0 {
			damage += " slow fsync logged " + c.slowSync.Round(time.Millisecond).String()
		}
		if c.beyond {
			damage += ", loss beyond the window"
		}
		if c.brokerLost > 0 {
			damage += fmt.Sprintf(" %d acknowledged, lost in the broker", c.brokerLost)
		}
		ready := "-"
		if e, ok := c.boot.event("edgepub-active"); ok {
			ready, _, _ = strings.Cut(e.args, " ")
			ready += "s"
		}
		lost, oldest := fmt.Sprintf("~%d", c.lost), "-"
		if c.exact {
			lost = strconv.Itoa(c.lost)
			if c.lost > 0 {
				oldest = c.oldestLost.Round(time.Millisecond).String()
			}
		}
		fmt.Fprintf(&w, "%-4d %-7v %-7s %-22s %-9s %8d %9v %10v %6s %11s %6d %6d %s\n", c.boot.n, c.boot.window, ready, c.boot.plan, since,
			c.taken, c.live.Round(time.Millisecond), c.age.Round(time.Millisecond), lost, oldest, c.jump, c.gap, damage)
	}
	var worst, oldest [2]time.Duration
	lost, brokerLost := 0, 0
	for _, c := range a.cuts {
		i := 0
		if c.boot.window < time.Second {
			i = 1
		}
		worst[i] = max(worst[i], c.age)
		oldest[i] = max(oldest[i], c.oldestLost)
		lost += c.lost
		brokerLost += c.brokerLost
	}
	fmt.Fprintf(&w, "cuts %d, distinct readings %d, lost %d, oldest lost %v (1s window) / %v (10ms window), acknowledged and lost in the broker %d, newest-survivor age max %v / %v, seq jumps %v, slow-fsync records %d\n",
		len(a.cuts), a.readings, lost, oldest[0].Round(time.Millisecond), oldest[1].Round(time.Millisecond), brokerLost,
		worst[0].Round(time.Millisecond), worst[1].Round(time.Millisecond), a.jumps, a.slowSyncs)
	return w.String()
}

// The analysis must catch each broken promise; these boots are made up.
func TestVMAnalysisFindsBrokenPromises(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)
	started := map[string]any{"MESSAGE_ID": logging.MsgStarted}
	jumped := map[string]any{"MESSAGE_ID": logging.MsgSeqJumped, "BY": "9990"}
	// boot makes a boot whose readings seq from…to were taken every 50 ms
	// from its start, cut at cut after the start.
	boot := func(n int, start time.Time, from, to uint64, cut time.Duration, journal ...map[string]any) *vmBoot {
		b := &vmBoot{n: n, window: time.Second, first: start, cut: start.Add(cut), journal: journal}
		for s := from; s <= to; s++ {
			at := start.Add(time.Duration(s-from) * vmReadingEvery)
			b.readings = append(b.readings, vmReading{seq: s, at: at, payload: fmt.Sprintf(`{"seq":%d,"time":%q}`, s, at)})
		}
		return b
	}
	healthy := func() []*vmBoot {
		// 100 readings in 5 s, cut 0.5 s after the last that survived.
		return []*vmBoot{
			boot(1, t0, 1, 100, 5450*time.Millisecond, started),
			boot(2, t0.Add(time.Minute), 10101, 10200, 5*time.Second, started, jumped),
		}
	}
	if a := analyse(healthy()); len(a.failures) != 0 || len(a.cuts) != 2 || a.cuts[0].jump != 9990 {
		t.Fatalf("healthy boots: failures %q, cuts %d, report\n%s", a.failures, len(a.cuts), a.report())
	}
	// A loss beyond the window after a logged slow fsync is the documented
	// exception.
	declared := healthy()
	declared[0].cut = declared[0].cut.Add(time.Second)
	declared[0].journal = append(declared[0].journal, map[string]any{"MESSAGE_ID": logging.MsgSlowSync, "TOOK": "1200000"})
	if a := analyse(declared); len(a.failures) != 0 || a.cuts[0].slowSync != 1200*time.Millisecond || !a.cuts[0].beyond {
		t.Fatalf("loss after a logged slow fsync: failures %q, report\n%s", a.failures, a.report())
	}
	// Readings the broker acknowledged died in its memory at the cut: the
	// next start found seqs up to 122 on disk, the newest 2 unacknowledged.
	// They are the broker's loss; counting them, edgepub's newest reading
	// was 0.5 s old at the cut. With 15 unacknowledged it was 1.15 s old.
	for backlog, wantFail := range map[string]bool{"2": false, "15": true} {
		bs := healthy()
		bs[0].cut = bs[0].cut.Add(time.Second)
		bs[1].journal = []map[string]any{{"MESSAGE_ID": logging.MsgStarted, "BACKLOG": backlog}, {"MESSAGE_ID": logging.MsgSeqJumped, "BY": "9978", "FROM": "123"}}
		a := analyse(bs)
		if failed := len(a.failures) > 0; failed != wantFail || a.cuts[0].brokerLost == 0 {
			t.Errorf("backlog %s at the next start: failures %q, want failure %v; report\n%s", backlog, a.failures, wantFail, a.report())
		}
	}
	// With the readings edgepub accepted known, each loss is timed itself.
	exact := func(cut time.Duration, delivered, accepted uint64, journal ...map[string]any) *vmAnalysis {
		bs := healthy()
		bs[0].cut = t0.Add(cut)
		bs[0].readings = bs[0].readings[:delivered]
		for s := uint64(1); s <= accepted; s++ {
			bs[0].accepted = append(bs[0].accepted, vmReading{seq: s, at: t0.Add(time.Duration(s-1) * vmReadingEvery)})
		}
		if journal != nil {
			bs[1].journal = journal
		}
		// The next boot continues one lease step on.
		for i := range bs[1].readings {
			bs[1].readings[i].seq = max(delivered, accepted) + 9990 + uint64(i)
		}
		return analyse(bs)
	}
	for _, tc := range []struct {
		name                string
		a                   *vmAnalysis
		wantFail            bool
		wantLost, wantAcked int
	}{
		// 101…108 taken 0.45–0.1 s before the cut.
		{"lost within the window", exact(5450*time.Millisecond, 100, 108), false, 8, 0},
		// 91…100 taken 1.5–1.05 s before the cut.
		{"lost beyond the window", exact(6*time.Second, 90, 100), true, 10, 0},
		{"the same, acknowledged and lost in the broker", exact(6*time.Second, 90, 100,
			map[string]any{"MESSAGE_ID": logging.MsgStarted, "BACKLOG": "0"},
			map[string]any{"MESSAGE_ID": logging.MsgSeqJumped, "BY": "9989", "FROM": "101"}), false, 0, 10},
		// edgepub took nothing in the last 3 s: an old newest survivor is
		// no loss.
		{"nothing taken before the cut", exact(8*time.Second, 100, 100), false, 0, 0},
	} {
		c := tc.a.cuts[0]
		if failed := len(tc.a.failures) > 0; failed != tc.wantFail || c.lost != tc.wantLost || c.brokerLost != tc.wantAcked {
			t.Errorf("%s: failures %q, lost %d, acknowledged %d; want failure %v, lost %d, acknowledged %d\n%s",
				tc.name, tc.a.failures, c.lost, c.brokerLost, tc.wantFail, tc.wantLost, tc.wantAcked, tc.a.report())
		}
	}
	for _, tc := range []struct {
		name   string
		break_ func(bs []*vmBoot)
		want   string
	}{
		{"newest survivor too old", func(bs []*vmBoot) { bs[0].cut = bs[0].cut.Add(time.Second) }, "beyond sync_window 1s, and no slow fsync"},
		{"reused seq", func(bs []*vmBoot) { bs[1].readings[0].seq = 100 }, "two payloads"},
		{"seq of a lost reading reused", func(bs []*vmBoot) {
			for i := range bs[1].readings {
				bs[1].readings[i].seq -= 10000
			}
		}, "lost at the cut may have had seqs up to 122"},
		{"old reading lost", func(bs []*vmBoot) { bs[0].readings = slices.Delete(bs[0].readings, 10, 12) }, "seqs 11…12 lost"},
		{"jump beyond the lease step", func(bs []*vmBoot) {
			for i := range bs[1].readings {
				bs[1].readings[i].seq += 10000
			}
		}, "more than 10000 past the last seq handed out"},
		{"no start after the cut", func(bs []*vmBoot) { bs[1].journal = bs[1].journal[1:] }, "did not start"},
		{"jump not logged", func(bs []*vmBoot) { bs[1].journal = bs[1].journal[:1] }, "without a MsgSeqJumped"},
	} {
		bs := healthy()
		tc.break_(bs)
		a := analyse(bs)
		if !strings.Contains(strings.Join(a.failures, "\n"), tc.want) {
			t.Errorf("%s: failures %q, want one with %q", tc.name, a.failures, tc.want)
		}
	}
}

// checkThermalZone compares edgepub's soc reading with the kernel's first
// thermal zone, when the VM exposes one (qemu's default x86 machine does
// not; the agent then says "none").
func (r *vmRig) checkThermalZone(b *vmBoot) {
	e, ok := b.event("thermal")
	if !ok {
		r.t.Errorf("drain boot %d: the agent did not report the thermal zones", b.n)
		return
	}
	if e.args == "none" {
		r.t.Logf("the VM exposes no thermal zone: the soc type is not checked on this kernel")
		return
	}
	var zone, reading string
	var milli int
	if _, err := fmt.Sscanf(e.args, "%s %d %s", &zone, &milli, &reading); err != nil {
		r.t.Errorf("thermal event %q: %v", e.args, err)
		return
	}
	var msg struct {
		Celsius *float64 `json:"soc_temperature_c"`
	}
	if err := json.Unmarshal([]byte(reading), &msg); err != nil || msg.Celsius == nil {
		r.t.Errorf("edgepub sensors read on %s: %q, want a soc_temperature_c", zone, e.args)
		return
	}
	// The zone's temp moves between the two reads; allow 5 °C.
	if d := *msg.Celsius - float64(milli)/1000; d > 5 || d < -5 {
		r.t.Errorf("%s: edgepub read %.1f °C, the kernel %d m°C", zone, *msg.Celsius, milli)
	}
	r.t.Logf("%s: edgepub read %.1f °C, the kernel %d m°C", zone, *msg.Celsius, milli)
}

// The rig's copy of the outbox reports every reading appended after it
// started, across segments, and nothing from before.
func TestOutboxCopyReportsEveryAcceptedReading(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	ob, err := outbox.Open(dir, &outbox.Opts{SegmentBytes: 4 << 10, MaxBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	t0 := time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC)
	appendReadings := func(from, to int) {
		for i := from; i <= to; i++ {
			r := sensors.Reading{Sensor: "environment", Time: t0.Add(time.Duration(i) * vmReadingEvery), Values: sensors.Values{"temperature_c": 21.5}}
			if _, err := ob.Append(r.Time, message.FrameFunc("Kai", r, nil)); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendReadings(1, 5) // before this boot's copy started

	out := filepath.Join(t.TempDir(), "copy")
	cmd := exec.Command("perl", "test/vmtest-outbox-copy", dir, out)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := func() []string {
		data, _ := os.ReadFile(out)
		return strings.Fields(strings.ReplaceAll(string(data), " ", "_"))
	}
	testutil.Eventually(t, 30*time.Second, "the copy's first pass", func() bool { return slices.Contains(lines(), "ready") })

	appendReadings(6, 200) // about 40 segments of 4 KiB
	var want []string
	for i := 6; i <= 200; i++ {
		want = append(want, fmt.Sprintf("%d_%s", i, t0.Add(time.Duration(i)*vmReadingEvery).Format(message.TimeLayout)))
	}
	testutil.Eventually(t, 30*time.Second, "every reading appended after the start", func() bool { return len(lines()) >= 1+len(want) })
	if got := slices.DeleteFunc(lines(), func(l string) bool { return l == "ready" }); !slices.Equal(got, want) {
		t.Errorf("the copy reported\n%v\nwant\n%v", got, want)
	}
}

// A record the copy reads half of (edgepub's write came in between) is
// reported once the rest is there.
func TestOutboxCopyCompletesATornRead(t *testing.T) {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	seg := filepath.Join(dir, "00000000000000000001.seg")
	if err := os.WriteFile(seg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("perl", "test/vmtest-outbox-copy", dir, out)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	copied := func(line string) func() bool {
		return func() bool {
			data, _ := os.ReadFile(out)
			return strings.Contains(string(data), line+"\n")
		}
	}
	testutil.Eventually(t, 30*time.Second, "the copy's first pass", copied("ready"))
	appendTo := func(s string) {
		f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(`…{"seq":6,"time":"2026-12-03T11:00:00.300Z"}…{"seq":7,"ti`)
	testutil.Eventually(t, 30*time.Second, "seq 6", copied("6 2026-12-03T11:00:00.300Z"))
	appendTo(`me":"2026-12-03T11:00:00.350Z"}…`)
	testutil.Eventually(t, 30*time.Second, "seq 7, read in two parts", copied("7 2026-12-03T11:00:00.350Z"))
}

package daemon

import "testing"

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1204: "1,204", 1234567: "1,234,567", -1204: "-1,204"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestProgressMeter(t *testing.T) {
	var p progressMeter
	if p.madeProgress() {
		t.Error("progress before any tick")
	}
	p.tick()
	if !p.madeProgress() {
		t.Error("no progress after a tick")
	}
	if p.madeProgress() {
		t.Error("progress counted twice for one tick")
	}
}

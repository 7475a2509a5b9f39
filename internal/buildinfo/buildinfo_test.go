package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestStringNamesVersionToolchainAndPlatform(t *testing.T) {
	got := String()
	for _, want := range []string{
		"edgepub " + Version + " ",
		runtime.Version(),
		runtime.GOOS + "/" + runtime.GOARCH,
		"commit ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("String() = %q, want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "\n") {
		t.Errorf("String() = %q spans lines, want one line", got)
	}
}

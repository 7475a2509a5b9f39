package catalog

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/edgepub/edgepub/config"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the README's sensor table from Types")

const (
	readmePath     = "../../README.md"
	tableBeginMark = "<!-- sensor types: generated from sensors/catalog; go test ./sensors/catalog -run Readme -update-readme -->\n"
	tableEndMark   = "<!-- end of sensor types -->\n"
)

// readmeTable is the README's sensor table, one row per entry of Types.
func readmeTable() string {
	var b strings.Builder
	b.WriteString("| Type | Device | Bus | Default address | Fields |\n|---|---|---|---|---|\n")
	for _, ti := range Types() {
		addr := "—"
		if len(ti.Addresses) > 0 {
			addr = fmt.Sprintf("0x%02X", ti.Addresses[0])
			if ti.Name == "ds18b20" {
				addr = "bridge " + addr
			}
		}
		fields := "`" + strings.Join(ti.Fields, "`, `") + "`"
		if len(ti.Options) > 0 && ti.Options[0] == "channels" {
			fields = "one field per configured channel"
		}
		fmt.Fprintf(&b, "| `%s` | %s: %s | %s | %s | %s |\n", ti.Name, ti.Chip, ti.Summary, ti.Bus, addr, fields)
	}
	return b.String()
}

// The README's sensor table is Types, written out: a type added to the
// catalog without the README, or the other way round, fails here.
func TestReadmeTableIsTheCatalog(t *testing.T) {
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	before, rest, ok := strings.Cut(readme, tableBeginMark)
	table, after, ok2 := strings.Cut(rest, tableEndMark)
	if !ok || !ok2 {
		t.Fatalf("README.md has no %q … %q section", tableBeginMark, tableEndMark)
	}
	want := readmeTable()
	if table == want {
		return
	}
	if *updateReadme {
		if err := os.WriteFile(readmePath, []byte(before+tableBeginMark+want+tableEndMark+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README's sensor table differs from the catalog; run go test ./sensors/catalog -run Readme -update-readme\ngot:\n%s\nwant:\n%s", table, want)
}

// The README's example sensors are what people paste: each passes Check.
func TestReadmeExamplesPassCheck(t *testing.T) {
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, part := range strings.Split(string(data), "```yaml\n")[1:] {
		if body, _, _ := strings.Cut(part, "```"); strings.HasPrefix(body, "sensors:") {
			block = body
		}
	}
	cfg, err := config.Parse(strings.NewReader(block))
	if err != nil {
		t.Fatalf("README sensor example: %v", err)
	}
	if err := Check(cfg.Sensors); err != nil {
		t.Errorf("README sensor example: %v", err)
	}
}

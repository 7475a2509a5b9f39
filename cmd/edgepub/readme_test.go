package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/edgepub/edgepub/sensors/catalog"
)

// The README's sensor examples are what people paste: they must parse, and
// every type in the catalog must have one.
func TestReadmeSensorExamples(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, part := range strings.Split(string(data), "```yaml\n")[1:] {
		body, _, _ := strings.Cut(part, "```")
		if strings.HasPrefix(body, "sensors:") {
			block = body
		}
	}
	if block == "" {
		t.Fatal("README has no ```yaml block starting with sensors:")
	}
	cfg, err := configParser().Parse(strings.NewReader(block))
	if err != nil {
		t.Fatalf("README sensor example: %v", err)
	}
	var used []string
	for _, s := range cfg.Sensors {
		used = append(used, s.Type)
	}
	for _, ty := range catalog.Types() {
		if !slices.Contains(used, ty.Name) && !strings.HasPrefix(ty.Name, "sim-") && !slices.Contains([]string{"bmp280", "bmp180", "ads1015"}, ty.Name) {
			t.Errorf("README has no example for sensor type %s", ty.Name)
		}
		if !strings.Contains(string(data), "`"+ty.Name+"`") {
			t.Errorf("README's sensor table does not list %s", ty.Name)
		}
	}
}

// Every edgepub command the README shows exists, with the flags it uses:
// a renamed command or flag cannot leave the README behind.
func TestReadmeCommands(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	root := commands()
	seen := 0
	for _, m := range readmeCommandRE.FindAllStringSubmatch(string(data), -1) {
		words := strings.Fields(m[1])
		c, path := root, []string(nil)
		for len(words) > 0 {
			sub, ok := c.sub(words[0])
			if !ok {
				break
			}
			c, path, words = sub, append(path, sub.name), words[1:]
		}
		if len(path) == 0 {
			continue // prose such as "edgepub is", not a command
		}
		seen++
		if c.run == nil {
			if len(words) > 0 && !strings.HasPrefix(words[0], "-") && !isPlaceholder(words[0]) {
				t.Errorf("README: %q: %s has no command %q", m[0], strings.Join(path, " "), words[0])
			}
			continue
		}
		usage, _, err := runCmd(t, append(path, "-h")...)
		if err != nil {
			t.Fatalf("%s -h: %v", strings.Join(path, " "), err)
		}
		for _, w := range words {
			name, _, _ := strings.Cut(w, "=")
			if strings.HasPrefix(name, "--") && len(name) > 2 && !strings.Contains(usage, name+" ") && !strings.Contains(usage, name+"\n") {
				t.Errorf("README: %q: edgepub %s has no flag %s", m[0], strings.Join(path, " "), name)
			}
		}
	}
	if seen < 10 {
		t.Errorf("found only %d edgepub commands in the README", seen)
	}
}

// readmeCommandRE finds "edgepub ARGS" up to the end of a code span or line.
var readmeCommandRE = regexp.MustCompile("edgepub((?: [^`\\n|#]*)?)")

func isPlaceholder(w string) bool { return strings.ToUpper(w) == w || strings.HasPrefix(w, "[") }

// Command binsize reports the size of the edgepub binary as the Makefile
// ships it (CGO_ENABLED=0, -tags nodemo, -trimpath, -ldflags '-s -w') for
// each Debian architecture, and what fills it: the symbols of the same build
// without -s -w (their sizes as `go tool nm -size` prints them), summed by
// module and by package. It prints Markdown tables for BENCHMARKS.md.
//
//	go run ./bench/binsize
//	go run ./bench/binsize -table-arch arm64 -packages 40
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"debug/elf"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

const pkg = "github.com/edgepub/edgepub/cmd/edgepub"

// goenv is the Makefile's Debian architecture → Go target.
var goenv = map[string][]string{
	"amd64": {"GOOS=linux", "GOARCH=amd64"},
	"arm64": {"GOOS=linux", "GOARCH=arm64"},
	"armhf": {"GOOS=linux", "GOARCH=arm", "GOARM=6"},
	"armel": {"GOOS=linux", "GOARCH=arm", "GOARM=5"},
}

func main() {
	tableArch := flag.String("table-arch", "amd64", "Debian architecture whose symbols are summed")
	packages := flag.Int("packages", 30, "how many of the largest modules and packages to list")
	flag.Parse()
	if _, ok := goenv[*tableArch]; !ok {
		log.Fatalf("-table-arch %s: want one of amd64, arm64, armhf, armel", *tableArch)
	}
	dir, err := os.MkdirTemp("", "binsize-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	fmt.Println("| architecture | shipped binary (stripped) |")
	fmt.Println("|---|---:|")
	for _, arch := range []string{"amd64", "arm64", "armhf", "armel"} {
		bin := filepath.Join(dir, "edgepub-"+arch)
		build(arch, bin, "-s -w")
		fi, err := os.Stat(bin)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("| %s | %s (%d bytes) |\n", arch, mib(fi.Size()), fi.Size())
	}

	bin := filepath.Join(dir, "edgepub-unstripped")
	build(*tableArch, bin, "")
	owners := packageModules(*tableArch)
	byPkg, bySection, err := weigh(bin, owners)
	if err != nil {
		log.Fatal(err)
	}
	byModule := map[string]int64{}
	var total int64
	for p, n := range byPkg {
		byModule[cmp.Or(owners[p], p)] += n
		total += n
	}
	fmt.Printf("\nSymbols of the %s build without -s -w, by section (bss takes no space in the file and is left out):\n\n", *tableArch)
	fmt.Println("| section | bytes |")
	fmt.Println("|---|---:|")
	for _, kv := range sorted(bySection) {
		fmt.Printf("| %s | %s |\n", kv.k, mib(kv.v))
	}
	fmt.Printf("\nBy module (%s in symbols; the standard library is \"std\", its vendored golang.org/x packages included):\n\n", mib(total))
	printTable("module", byModule, total, *packages)
	fmt.Printf("\nBy package, the %d largest:\n\n", *packages)
	printTable("package", byPkg, total, *packages)
}

// build compiles edgepub for arch as the Makefile does, with ldflags.
func build(arch, out, ldflags string) {
	cmd := exec.Command("go", "build", "-tags", "nodemo", "-trimpath", "-ldflags", ldflags, "-o", out, pkg)
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), goenv[arch]...)
	if b, err := cmd.CombinedOutput(); err != nil {
		log.Fatalf("go build for %s: %v\n%s", arch, err, b)
	}
}

// packageModules maps each package linked into edgepub for arch to its
// module path, "std" for the standard library.
func packageModules(arch string) map[string]string {
	cmd := exec.Command("go", "list", "-deps", "-tags", "nodemo", "-f", "{{.ImportPath}}\t{{with .Module}}{{.Path}}{{end}}", pkg)
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), goenv[arch]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		log.Fatalf("go list: %v", err)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		p, mod, _ := strings.Cut(sc.Text(), "\t")
		m[p] = cmp.Or(mod, "std")
	}
	return m
}

// weigh sums the sizes of the file-backed symbols of bin by the package
// they belong to, and by section. Symbols of no package (the function
// tables, type links) are listed under their own name in parentheses.
func weigh(bin string, owners map[string]string) (byPkg, bySection map[string]int64, err error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, nil, fmt.Errorf("%s has no symbol table (built with -s?): %w", bin, err)
	}
	byPkg, bySection = map[string]int64{}, map[string]int64{}
	for _, s := range syms {
		if int(s.Section) <= 0 || int(s.Section) >= len(f.Sections) || s.Size == 0 {
			continue
		}
		sec := f.Sections[s.Section]
		if sec.Type == elf.SHT_NOBITS {
			continue
		}
		bySection[sec.Name] += int64(s.Size)
		byPkg[packageOf(s.Name, owners)] += int64(s.Size)
	}
	// Sections the linker fills without symbols (e.g. .gopclntab's line
	// tables) still take space in the shipped file.
	for _, sec := range f.Sections {
		if sec.Type == elf.SHT_NOBITS || sec.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		if rest := int64(sec.Size) - bySection[sec.Name]; rest > 0 {
			bySection[sec.Name+" (no symbol)"] = rest
			byPkg["("+sec.Name+" without symbols)"] += rest
		}
	}
	return byPkg, bySection, nil
}

// packageOf returns the longest linked package path that name starts with,
// followed by a dot: "type:*gopkg.in/yaml.v3.Node" is gopkg.in/yaml.v3.
func packageOf(name string, owners map[string]string) string {
	// The linker writes dots in a path's last element as %2e
	// (github.com/eclipse/paho%2emqtt%2egolang), and calls the main
	// package main.
	n := strings.ReplaceAll(name, "%2e", ".")
	for _, prefix := range []string{"type:", "go:itab."} {
		n = strings.TrimPrefix(n, prefix)
	}
	n = strings.TrimLeft(n, "*[]()")
	if strings.HasPrefix(n, "main.") {
		return pkg
	}
	best := ""
	for i := range len(n) {
		if n[i] == '.' && len(n[:i]) > len(best) {
			if _, ok := owners[n[:i]]; ok {
				best = n[:i]
			}
		}
	}
	switch {
	case best != "":
		return best
	case strings.HasPrefix(name, "go:func."):
		return "(go:func.*, function metadata)"
	case strings.HasPrefix(name, "go:struct {"), strings.HasPrefix(name, "go:(*struct {"):
		return "(methods of anonymous structs)"
	case strings.HasPrefix(name, "type:"):
		return "(type:, generated type data)"
	}
	return "(assembly and linker symbols)"
}

type kv struct {
	k string
	v int64
}

func sorted(m map[string]int64) []kv {
	var out []kv
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	slices.SortFunc(out, func(a, b kv) int { return cmp.Or(cmp.Compare(b.v, a.v), cmp.Compare(a.k, b.k)) })
	return out
}

func printTable(what string, m map[string]int64, total int64, n int) {
	fmt.Printf("| %s | bytes | share |\n|---|---:|---:|\n", what)
	var shown int64
	for i, e := range sorted(m) {
		if i == n {
			break
		}
		shown += e.v
		fmt.Printf("| %s | %s | %.1f %% |\n", e.k, mib(e.v), 100*float64(e.v)/float64(total))
	}
	if rest := total - shown; rest > 0 {
		fmt.Printf("| (the other %d) | %s | %.1f %% |\n", len(m)-n, mib(rest), 100*float64(rest)/float64(total))
	}
}

func mib(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
}

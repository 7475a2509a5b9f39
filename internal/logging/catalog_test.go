package logging

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const catalogPath = "../../packaging/edgepub.catalog"

var messageIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// declaredMessageIDs reads the Msg* constants from msgid.go's source, so a
// new id cannot be added without the test noticing.
func declaredMessageIDs(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "msgid.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			if !strings.HasPrefix(name.Name, "Msg") || i >= len(spec.Values) {
				continue
			}
			lit, ok := spec.Values[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Fatalf("%s is not a string literal", name.Name)
			}
			id, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			ids[name.Name] = id
		}
		return true
	})
	if len(ids) == 0 {
		t.Fatal("found no Msg* constants in msgid.go")
	}
	return ids
}

type catalogEntry struct {
	headers map[string]string
	body    string
}

// parseCatalog reads the catalog format of journalctl --update-catalog: an
// entry starts with "-- <id>", header lines follow up to a blank line, then
// the text. Lines starting with # outside entries are comments.
func parseCatalog(t *testing.T, path string) map[string]*catalogEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries := map[string]*catalogEntry{}
	var cur *catalogEntry
	inHeader := false
	var body strings.Builder
	flush := func() {
		if cur != nil {
			cur.body = strings.TrimSpace(body.String())
		}
		body.Reset()
	}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if id, ok := strings.CutPrefix(text, "-- "); ok {
			flush()
			if !messageIDPattern.MatchString(id) {
				t.Errorf("catalog line %d: %q is not a 32-digit lower-case hex id", line, id)
			}
			if entries[id] != nil {
				t.Errorf("catalog line %d: id %s appears twice", line, id)
			}
			cur = &catalogEntry{headers: map[string]string{}}
			entries[id] = cur
			inHeader = true
			continue
		}
		switch {
		case cur == nil:
			if text != "" && !strings.HasPrefix(text, "#") {
				t.Errorf("catalog line %d: text outside any entry: %q", line, text)
			}
		case inHeader && text == "":
			inHeader = false
		case inHeader:
			k, v, ok := strings.Cut(text, ": ")
			if !ok {
				t.Errorf("catalog line %d: header %q is not \"Key: value\"", line, text)
			}
			cur.headers[k] = v
		default:
			body.WriteString(text + "\n")
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestCatalogExplainsEveryMessageID(t *testing.T) {
	declared := declaredMessageIDs(t)
	entries := parseCatalog(t, catalogPath)

	names := map[string]string{}
	for name, id := range declared {
		if !messageIDPattern.MatchString(id) {
			t.Errorf("%s = %q: want 32 lower-case hex digits (systemd-id128 new)", name, id)
		}
		if other, dup := names[id]; dup {
			t.Errorf("%s and %s share the id %s", name, other, id)
		}
		names[id] = name
		e := entries[id]
		if e == nil {
			t.Errorf("%s (%s) has no entry in %s", name, id, catalogPath)
			continue
		}
		if e.headers["Subject"] == "" {
			t.Errorf("catalog entry for %s has no Subject", name)
		}
		if e.headers["Defined-By"] != "edgepub" {
			t.Errorf("catalog entry for %s: Defined-By = %q, want edgepub", name, e.headers["Defined-By"])
		}
		// What happened and what to do: at least two paragraphs.
		if strings.Count(e.body, "\n\n") < 1 {
			t.Errorf("catalog entry for %s must say what happened and, in its own paragraph, what to do", name)
		}
	}
	for id := range entries {
		if names[id] == "" {
			t.Errorf("catalog entry %s matches no Msg constant in msgid.go", id)
		}
	}
}

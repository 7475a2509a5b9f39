package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Parser reads config files. Its zero value checks everything this package
// knows; CheckSensors adds what only the drivers know.
type Parser struct {
	// CheckSensors, if set, checks the sensors' types, timing and driver
	// options (catalog.Check: config cannot import the drivers). Each
	// *config.FieldError it returns, alone or joined, is reported at the
	// line of its key, e.g. "sensors[1].type".
	CheckSensors func([]Sensor) error
	// ReadTime, if set, says how long the longest read of a sensor type
	// takes by its datasheet, opening the chip included (0 if unknown):
	// a sensor without a timeout gets DefaultTimeout's for it
	// (catalog.ReadTime). CheckSensors reports a type whose read does not
	// fit the interval.
	ReadTime func(sensorType string) time.Duration
}

// ErrSyntax is wrapped by every error about a file that is not YAML.
var ErrSyntax = errors.New("not valid YAML")

// maxProblems is how many problems of one file are reported: enough for a
// file written from scratch, few enough to read.
const maxProblems = 10

// Load reads the config file at path. A missing file is an error unless
// optional is set (the default path may be absent: then defaults apply).
func Load(path string, optional bool) (Config, error) { return Parser{}.Load(path, optional) }

// Parse reads YAML over the defaults and validates the result; see
// Parser.Parse.
func Parse(r io.Reader) (Config, error) { return Parser{}.Parse(r) }

// Load reads the config file at path; relative paths in it are taken
// relative to its folder.
func (p Parser) Load(path string, optional bool) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && optional {
		return p.parse(nil, "")
	}
	if err != nil {
		return Config{}, fmt.Errorf("config: %w (name an existing file with --config, or leave it out to use the defaults)", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	cfg, err := p.parse(data, filepath.Dir(abs))
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse reads YAML over the defaults and validates the result. Unknown keys,
// wrong types and invalid values are errors that name the key and its line;
// all of them are reported, in file order (see Problems). Relative paths
// are taken relative to the current directory.
func (p Parser) Parse(r io.Reader) (Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Config{}, fmt.Errorf("read: %w", err)
	}
	return p.parse(data, "")
}

func (p Parser) parse(data []byte, dir string) (Config, error) {
	cfg := Default()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Config{}, fmt.Errorf("%w: %w (check indentation and brackets on that line)", ErrSyntax, tidyYAMLError(err))
	}
	var probs Problems
	lines := map[string]int{}
	if len(root.Content) > 0 {
		doc := root.Content[0]
		if doc.Kind != yaml.MappingNode {
			return Config{}, fmt.Errorf("line %d: the config must be a mapping of keys such as broker:, certs:, sensors:", doc.Line)
		}
		if err := checkExpansion(doc); err != nil {
			return Config{}, err
		}
		checkKeys(doc, reflect.TypeOf(cfg), "", lines, &probs)
		unknownKeys := len(probs)
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			probs.addYAML(err, lines, unknownKeys > 0)
		}
	}
	cfg.applySensorDefaults(p.ReadTime)
	if err := cfg.resolvePaths(dir); err != nil {
		probs.add(0, err)
	}
	for _, err := range cfg.problems(p.CheckSensors) {
		line := 0
		var fe *FieldError
		if errors.As(err, &fe) {
			line = lineOf(fe.Key, lines)
		}
		probs.add(line, err)
	}
	if len(probs) > 0 {
		return Config{}, probs.sorted()
	}
	return cfg, nil
}

// lineOf is the line of key, or of the closest enclosing key written in the
// file (a default that conflicts with a value given is reported there).
func lineOf(key string, lines map[string]int) int {
	for ; key != ""; key = parentKey(key) {
		if line, ok := lines[key]; ok {
			return line
		}
	}
	return 0
}

func parentKey(key string) string {
	i := strings.LastIndexAny(key, ".[")
	if i < 0 {
		return ""
	}
	return key[:i]
}

// Problems are the mistakes found in one file, in file order, at most
// maxProblems of them. errors.Is and errors.As see each.
type Problems []Problem

// Problem is one mistake and the line it is on (0: none).
type Problem struct {
	Line int
	Err  error
}

func (p Problem) Error() string {
	if p.Line == 0 || strings.HasPrefix(p.Err.Error(), "line ") {
		return p.Err.Error()
	}
	return fmt.Sprintf("line %d: %v", p.Line, p.Err)
}

func (p Problem) Unwrap() error { return p.Err }

func (ps *Problems) add(line int, err error) { *ps = append(*ps, Problem{Line: line, Err: err}) }

// addYAML adds the decoder's errors, which are all type errors once the
// syntax is fine. Unknown keys were reported already, with valid keys.
func (ps *Problems) addYAML(err error, lines map[string]int, haveUnknown bool) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		ps.add(0, withKey(tidyYAMLError(err), lines))
		return
	}
	for _, msg := range te.Errors {
		if haveUnknown && strings.Contains(msg, "not found in type") {
			continue
		}
		e := withKey(tidyYAMLError(errors.New(msg)), lines)
		line := 0
		if m := lineRE.FindStringSubmatch(e.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		ps.add(line, e)
	}
}

// sorted orders the problems by line, keeping the order of those on one
// line, and drops any beyond maxProblems.
func (ps Problems) sorted() Problems {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b Problem) int {
		switch {
		case a.Line == b.Line:
			return 0
		case a.Line == 0:
			return 1
		case b.Line == 0:
			return -1
		}
		return a.Line - b.Line
	})
	if len(out) > maxProblems {
		out = append(out[:maxProblems], Problem{Err: fmt.Errorf("… and %d more problems", len(out)-maxProblems)})
	}
	return out
}

// Error is one line for one problem, else a count and one line each.
func (ps Problems) Error() string {
	if len(ps) == 1 {
		return ps[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(ps))
	for _, p := range ps {
		b.WriteString("\n  " + p.Error())
	}
	return b.String()
}

// Unwrap returns every problem.
func (ps Problems) Unwrap() []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}

// checkKeys walks the document against the Go type so that an unknown key is
// reported with its full path, its line and the keys that would be valid,
// and records the line of every key for later error messages.
func checkKeys(n *yaml.Node, t reflect.Type, path string, lines map[string]int, probs *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.AliasNode:
		checkKeys(n.Alias, t, path, lines, probs)
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode && !hasCustomDecoder(t):
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := join(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				valid := sortedKeys(fields)
				probs.add(k.Line, fmt.Errorf("line %d: unknown key %q%s%s (valid keys: %s)", k.Line, key, inWhat(path), didYouMean(k.Value, valid), strings.Join(valid, ", ")))
				continue
			}
			lines[key] = k.Line
			checkKeys(v, ft, key, lines, probs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			key := fmt.Sprintf("%s[%d]", path, i)
			lines[key] = item.Line
			checkKeys(item, t.Elem(), key, lines, probs)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := join(path, n.Content[i].Value)
			lines[key] = n.Content[i].Line
			checkKeys(n.Content[i+1], t.Elem(), key, lines, probs)
		}
	}
}

func hasCustomDecoder(t reflect.Type) bool {
	return reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]())
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	return fields
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func inWhat(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

var (
	lineRE      = regexp.MustCompile(`line (\d+): `)
	typeErrorRE = regexp.MustCompile("^(line \\d+): cannot unmarshal !!(\\w+) (`.*` )?into (.+)$")
)

// goTypeWords says in a user's words what a Go type wants.
var goTypeWords = map[string]string{
	"int": "a whole number", "uint16": "a whole number such as 0x76", "int64": "a whole number",
	"float64": "a number", "bool": "true or false", "string": "text",
	"[]string": "a list such as [a, b]",
}

// tidyYAMLError turns the yaml package's errors into one line without the
// Go type names a user cannot act on.
func tidyYAMLError(err error) error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := typeErrorRE.FindStringSubmatch(msg); m != nil {
		want, ok := goTypeWords[m[4]]
		if !ok {
			want = "a different kind of value"
			switch {
			case strings.HasPrefix(m[4], "[]"):
				want = "a list"
			case strings.HasPrefix(m[4], "map["), strings.HasPrefix(m[4], "config."):
				want = "a mapping of keys"
			}
		}
		got := map[string]string{"str": "text", "int": "a number", "float": "a number", "bool": "a boolean", "seq": "a list", "map": "a mapping", "null": "nothing"}[m[2]]
		msg = fmt.Sprintf("%s: wrong type: want %s, got %s %s", m[1], want, got, strings.TrimSpace(m[3]))
		if value := strings.Trim(strings.TrimSpace(m[3]), "`"); m[2] == "str" && quotedScalar(value, m[4]) {
			msg = fmt.Sprintf("%s: %q is quoted, so it is text: remove the quotes (want %s)", m[1], value, want)
		}
	}
	return errors.New(strings.TrimSpace(msg))
}

// quotedScalar reports whether text would have been a valid goType
// without its quotes.
func quotedScalar(text, goType string) bool {
	var err error
	switch goType {
	case "bool":
		_, err = strconv.ParseBool(text)
	case "float64":
		_, err = strconv.ParseFloat(text, 64)
	case "int", "int64", "uint16":
		_, err = strconv.ParseInt(text, 0, 64)
	default:
		return false
	}
	return err == nil
}

// withKey names the key that stands on the line an error reports.
func withKey(err error, lines map[string]int) error {
	m := lineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	line, _ := strconv.Atoi(m[1])
	best := ""
	for key, l := range lines {
		if l == line && len(key) > len(best) {
			best = key
		}
	}
	if best == "" {
		return err
	}
	prefix := m[0] // "line N: "
	return errors.New(prefix + best + ": " + strings.TrimPrefix(err.Error(), prefix))
}

// FieldError is an invalid value of one key.
type FieldError struct {
	// Key is the dotted path, e.g. "broker.keepalive" or "sensors[1].interval".
	Key string
	Err error
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Err.Error() }

// Unwrap returns the sentinel describing the problem.
func (e *FieldError) Unwrap() error { return e.Err }

// applySensorDefaults fills in what a sensor leaves unset; readTime, if
// not nil, gives each type's longest read for its default timeout.
func (c *Config) applySensorDefaults(readTime func(sensorType string) time.Duration) {
	for i := range c.Sensors {
		s := &c.Sensors[i]
		if s.Interval == 0 {
			s.Interval = Duration(DefaultSensorInterval)
		}
		if s.Timeout == 0 {
			var read time.Duration
			if readTime != nil {
				read = readTime(s.Type)
			}
			s.Timeout = Duration(DefaultTimeout(s.Interval.Std(), read))
		}
		if s.Samples == 0 {
			s.Samples = 1
		}
	}
}

// didYouMean suggests the known word closest to a misspelt one, if it is
// close enough to be the likely intent: "; did you mean bme280?".
func didYouMean(word string, known []string) string {
	if s := closest(word, known); s != "" {
		return "; did you mean " + s + "?"
	}
	return ""
}

// closest returns the word of known nearest to word in edit distance, if
// at most a third of word's letters differ; else "".
func closest(word string, known []string) string {
	best, bestDist := "", len(word)/3+1
	for _, k := range known {
		if d := editDistance(strings.ToLower(word), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// maxExpandedNodes bounds the document with every alias expanded. A real
// config has a few hundred nodes; nested aliases ("billion laughs") can make
// a few kilobytes expand to billions, which checkKeys and the decoder would
// walk and record.
const maxExpandedNodes = 100_000

// checkExpansion counts the nodes of n with aliases expanded and stops at
// maxExpandedNodes, so the count itself stays cheap.
func checkExpansion(n *yaml.Node) error {
	budget := maxExpandedNodes
	var walk func(*yaml.Node) *yaml.Node
	walk = func(n *yaml.Node) *yaml.Node {
		if budget--; budget < 0 {
			return n
		}
		if n.Kind == yaml.AliasNode {
			if over := walk(n.Alias); over != nil {
				return n
			}
			return nil
		}
		for _, c := range n.Content {
			if over := walk(c); over != nil {
				return over
			}
		}
		return nil
	}
	if at := walk(n); at != nil {
		return fmt.Errorf("line %d: the config expands to more than %d values through YAML aliases (*%s): write the values out or use fewer nested aliases", at.Line, maxExpandedNodes, at.Value)
	}
	return nil
}

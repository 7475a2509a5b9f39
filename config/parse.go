package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the config file at path. A missing file is an error unless
// optional is set (the default path may be absent: then defaults apply).
func Load(path string, optional bool) (Config, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && optional {
		return Parse(strings.NewReader(""))
	}
	if err != nil {
		return Config{}, fmt.Errorf("config: %w (name an existing file with --config, or leave it out to use the defaults)", err)
	}
	defer f.Close()
	cfg, err := Parse(f)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse reads YAML over the defaults and validates the result. Unknown keys,
// wrong types and invalid values are errors that name the key and its line.
func Parse(r io.Reader) (Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Config{}, fmt.Errorf("read: %w", err)
	}
	cfg := Default()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Config{}, fmt.Errorf("not valid YAML: %w (check indentation and brackets on that line)", tidyYAMLError(err))
	}
	lines := map[string]int{}
	if len(root.Content) > 0 {
		doc := root.Content[0]
		if doc.Kind != yaml.MappingNode {
			return Config{}, fmt.Errorf("line %d: the config must be a mapping of keys such as broker:, certs:, sensors:", doc.Line)
		}
		if err := checkExpansion(doc); err != nil {
			return Config{}, err
		}
		if err := checkKeys(doc, reflect.TypeOf(cfg), "", lines); err != nil {
			return Config{}, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, withKey(tidyYAMLError(err), lines)
		}
	}
	cfg.applySensorDefaults()
	if err := cfg.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			if line, ok := lines[fe.Key]; ok {
				return Config{}, fmt.Errorf("line %d: %w", line, err)
			}
		}
		return Config{}, err
	}
	return cfg, nil
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

// checkKeys walks the document against the Go type so that an unknown key is
// reported with its full path, its line and the keys that would be valid,
// and records the line of every key for later error messages.
func checkKeys(n *yaml.Node, t reflect.Type, path string, lines map[string]int) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.AliasNode:
		return checkKeys(n.Alias, t, path, lines)
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode && !hasCustomDecoder(t):
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := join(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("line %d: unknown key %q%s (valid keys: %s)", k.Line, key, inWhat(path), strings.Join(sortedKeys(fields), ", "))
			}
			lines[key] = k.Line
			if err := checkKeys(v, ft, key, lines); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			key := fmt.Sprintf("%s[%d]", path, i)
			lines[key] = item.Line
			if err := checkKeys(item, t.Elem(), key, lines); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := join(path, n.Content[i].Value)
			lines[key] = n.Content[i].Line
			if err := checkKeys(n.Content[i+1], t.Elem(), key, lines); err != nil {
				return err
			}
		}
	}
	return nil
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
	}
	return errors.New(strings.TrimSpace(msg))
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
	return fmt.Errorf("%s (key %s)", err, best)
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

func (c *Config) applySensorDefaults() {
	for i := range c.Sensors {
		s := &c.Sensors[i]
		if s.Interval == 0 {
			s.Interval = Duration(DefaultSensorInterval)
		}
		if s.Timeout == 0 {
			// A fast sensor gets a timeout that fits its interval.
			s.Timeout = Duration(min(DefaultSensorTimeout, s.Interval.Std()/2))
		}
		if s.Samples == 0 {
			s.Samples = 1
		}
	}
}

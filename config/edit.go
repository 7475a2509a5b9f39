package config

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SetScalar returns the config file data with the value of key (dotted,
// such as "certs.dir") set to value, changing only that line so that the
// file's comments and layout stay as they are. A key that is not there yet
// is added to its section, or a new section at the end.
func SetScalar(data []byte, key, value string) ([]byte, error) {
	encoded, err := yaml.Marshal(value)
	if err != nil {
		return nil, err
	}
	scalar := strings.TrimSuffix(string(encoded), "\n")
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyntax, tidyYAMLError(err))
	}
	section, name, _ := strings.Cut(key, ".")
	if name == "" {
		return nil, fmt.Errorf("SetScalar: key %q has no section", key)
	}
	lines := strings.SplitAfter(string(data), "\n")
	var sec *yaml.Node
	if len(root.Content) > 0 {
		doc := root.Content[0]
		if doc.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("line %d: the config must be a mapping of keys such as broker:, certs:, sensors:", doc.Line)
		}
		sec = mappingValue(doc, section)
	}
	switch {
	case sec == nil:
		out := string(bytes.TrimRight(data, "\n")) + fmt.Sprintf("\n\n%s:\n  %s: %s\n", section, name, scalar)
		return []byte(strings.TrimLeft(out, "\n")), nil
	case sec.Kind != yaml.MappingNode || sec.Style&yaml.FlowStyle != 0:
		return nil, fmt.Errorf("line %d: %s is not written as a block of keys; set %s by hand", sec.Line, section, key)
	}
	val := mappingValue(sec, name)
	if val == nil {
		// A new first key of the section, indented as its first key is.
		first := sec.Content[0]
		line := strings.Repeat(" ", first.Column-1) + name + ": " + scalar + "\n"
		return []byte(strings.Join(insert(lines, first.Line-1, line), "")), nil
	}
	if val.Kind != yaml.ScalarNode || strings.Contains(val.Value, "\n") {
		return nil, fmt.Errorf("line %d: %s is not a single value; set it by hand", val.Line, key)
	}
	i := val.Line - 1
	rest := scalar
	if val.LineComment != "" {
		rest += " " + val.LineComment
	}
	lines[i] = lines[i][:val.Column-1] + rest + "\n"
	return []byte(strings.Join(lines, "")), nil
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func insert(lines []string, at int, line string) []string {
	return append(lines[:at], append([]string{line}, lines[at:]...)...)
}

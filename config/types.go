package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as in Go: "500ms", "10s", "2m", "1h30m".
type Duration time.Duration

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil || n.Kind != yaml.ScalarNode {
		return typeError("line %d: want a duration such as \"10s\" or \"2m\"", n.Line)
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return typeError("line %d: %q is not a duration: write it like \"500ms\", \"10s\" or \"2m\"", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// typeError is an error the YAML decoder collects and goes on after, so
// that the other mistakes of the file are found too.
func typeError(format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf(format, args...)}}
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// ByteSize is a size in bytes written as a number with an optional unit:
// "65536", "512KiB", "64MiB", "1GiB" (also KB, MB, GB as powers of 1000).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
}

// UnmarshalYAML reads a size.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError("line %d: want a size such as \"64MiB\"", n.Line)
	}
	s := strings.TrimSpace(n.Value)
	factor := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, factor = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.factor
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/factor {
		return typeError("line %d: %q is not a size: write it like \"64MiB\" or \"512KiB\"", n.Line, n.Value)
	}
	*b = ByteSize(v * factor)
	return nil
}

// MarshalYAML writes the size in the largest exact binary unit.
func (b ByteSize) MarshalYAML() (any, error) {
	switch v := int64(b); {
	case v != 0 && v%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", v>>30), nil
	case v != 0 && v%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", v>>20), nil
	case v != 0 && v%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", v>>10), nil
	default:
		return strconv.FormatInt(v, 10), nil
	}
}

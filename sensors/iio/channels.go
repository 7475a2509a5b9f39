package iio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgepub/edgepub/sensors/internal/sysattr"
)

// spec is a channel's name split as the ABI builds it:
// in_<type>[<index>][_<modifier>]_{raw,input}.
type spec struct {
	typ, index, modifier string
}

func (s spec) name() string {
	n := s.typ + s.index
	if s.modifier != "" {
		n += "_" + s.modifier
	}
	return n
}

// parseSpec splits an attribute name such as "in_temp0_raw" or
// "in_concentration_co2_input". Differential channels (in_voltage0-voltage1)
// are skipped: they need a pairing edgepub has no field name for.
func parseSpec(file string) (spec, string, bool) {
	rest, ok := strings.CutPrefix(file, "in_")
	if !ok || strings.Contains(rest, "-") {
		return spec{}, "", false
	}
	var kind string
	switch {
	case strings.HasSuffix(rest, "_raw"):
		kind, rest = "raw", strings.TrimSuffix(rest, "_raw")
	case strings.HasSuffix(rest, "_input"):
		kind, rest = "input", strings.TrimSuffix(rest, "_input")
	default:
		return spec{}, "", false
	}
	head, modifier, _ := strings.Cut(rest, "_")
	i := len(head)
	for i > 0 && head[i-1] >= '0' && head[i-1] <= '9' {
		i--
	}
	return spec{typ: head[:i], index: head[i:], modifier: modifier}, kind, true
}

// channels finds the device's readable channels in dir and names their
// fields. A quantity with one channel gets a plain name ("temperature_c");
// with several, the index goes in ("voltage0_v").
func channels(dir string, rename map[string]string) ([]channel, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type found struct {
		spec       spec
		raw, input string
	}
	var order []string
	byName := map[string]*found{}
	perStem := map[string]int{}
	for _, e := range entries {
		s, kind, ok := parseSpec(e.Name())
		if !ok {
			continue
		}
		if _, known := quantityOf(s.typ); !known {
			continue
		}
		f := byName[s.name()]
		if f == nil {
			f = &found{spec: s}
			byName[s.name()] = f
			order = append(order, s.name())
			perStem[s.typ+"_"+s.modifier]++
		}
		p := filepath.Join(dir, e.Name())
		if kind == "raw" {
			f.raw = p
		} else {
			f.input = p
		}
	}
	var chans []channel
	seen := map[string]string{}
	for _, n := range order {
		f := byName[n]
		q, _ := quantityOf(f.spec.typ)
		modifier := f.spec.modifier
		if f.spec.typ == "concentration" && modifier != "" {
			q, modifier = concentrationOf(modifier), ""
		}
		stem := q.stem
		field := stem
		if perStem[f.spec.typ+"_"+f.spec.modifier] > 1 {
			field += f.spec.index
		}
		if modifier != "" {
			field += "_" + modifier
		}
		field += q.suffix
		if r, ok := rename[field]; ok {
			field = r
		}
		if other, dup := seen[field]; dup {
			return nil, fmt.Errorf("channels %s and %s would both publish %s", other, n, field)
		}
		seen[field] = n
		c := channel{field: field, input: f.input, raw: f.raw, scale: 1, factor: q.factor}
		if c.input == "" {
			var err error
			if c.offset, err = shared(dir, f.spec, "offset", 0); err != nil {
				return nil, err
			}
			if c.scale, err = shared(dir, f.spec, "scale", 1); err != nil {
				return nil, err
			}
		}
		chans = append(chans, c)
	}
	return chans, nil
}

// shared reads a channel's offset or scale: its own attribute, or the one
// shared by all channels of its type (in_voltage_scale), or def when the
// driver has none (the ABI: absent means 0 offset, scale 1).
func shared(dir string, s spec, what string, def float64) (float64, error) {
	candidates := []string{"in_" + s.name() + "_" + what}
	if s.modifier != "" {
		candidates = append(candidates, "in_"+s.typ+"_"+s.modifier+"_"+what)
	}
	candidates = append(candidates, "in_"+s.typ+"_"+what)
	for _, c := range candidates {
		v, err := sysattr.Number(filepath.Join(dir, c))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", c, err)
		}
		return v, nil
	}
	return def, nil
}

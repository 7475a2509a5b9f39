package config

import _ "embed"

// Example is the commented sample config that the package installs as
// /etc/edgepub/config.yaml and `edgepub config example` prints.
//
//go:embed example.yaml
var Example string

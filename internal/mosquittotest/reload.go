package mosquittotest

import (
	"strconv"
)

// SignerACL adds to SeedACL the lines the README gives `edgepub ca serve`.
const SignerACL = SeedACL + "\nuser signer\ntopic read +/certs/csr\ntopic write +/certs/issued\n"

// ReloadCommand is a command that makes the running broker reload its
// configuration and its crlfile, as `systemctl reload mosquitto` does
// (what Reload does from the test itself).
func (b *Broker) ReloadCommand() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		b.t.Fatal("ReloadCommand: the broker is not running")
	}
	return []string{"kill", "-HUP", strconv.Itoa(b.cmd.Process.Pid)}
}

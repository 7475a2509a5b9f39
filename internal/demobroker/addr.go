package demobroker

import (
	"fmt"
	"net"
	"net/netip"
)

// defaultAddr lets the kernel pick a free port on IPv4 loopback.
const defaultAddr = "127.0.0.1:0"

// loopbackAddr returns addr, or defaultAddr for "", if its host is a loopback
// IP literal or "localhost" (taken as 127.0.0.1 without asking a resolver).
// Anything else is refused: a name could resolve to a routable address.
func loopbackAddr(addr string) (string, error) {
	if addr == "" {
		return defaultAddr, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("demo broker address %q is not host:port: %w", addr, err)
	}
	if host == "localhost" {
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return "", fmt.Errorf("demo broker address %q is not on loopback: use 127.0.0.1:PORT or [::1]:PORT, the demo broker must not be reachable from the network", addr)
	}
	return addr, nil
}

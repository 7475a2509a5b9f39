package certs_test

import (
	"testing"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
)

// An intermediate that only the device's ca.crt holds (ca.crt = root +
// intermediate, Kai.crt = the leaf alone) is sent with the leaf, as OpenSSL
// clients such as mosquitto_pub send it: a broker whose cafile holds only
// the root cannot verify the leaf otherwise.
func TestIntermediateFromCABundleIsSent(t *testing.T) {
	t.Parallel()
	root := newCA(t, "Root-CA", pki.KeyECDSAP256)
	inter, err := root.IssueIntermediate("Issuing-CA", t0)
	if err != nil {
		t.Fatal(err)
	}
	leafPEM, keyPEM := issueClient(t, inter, "Kai")
	dir := deviceDir(t, append(append([]byte{}, root.CertPEM()...), inter.CertPEM()...), "Kai", leafPEM, keyPEM)
	b, err := certs.Load(dir, certs.Names{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Client.Certificate) != 2 {
		t.Fatalf("sends %d certificates, want the leaf and the intermediate", len(b.Client.Certificate))
	}
	checkClientAuthHandshake(t, root, b)
}

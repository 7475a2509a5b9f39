package pki_test

import (
	"fmt"
	"log"
	"time"

	"github.com/edgepub/edgepub/certs/pki"
)

// ExampleCA_IssueClient makes client certificates for a fleet of test
// devices from one CA.
func ExampleCA_IssueClient() {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	ca, err := pki.NewCA("Fleet-CA", pki.KeyECDSAP256, now)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"pi-001", "pi-002"} {
		certPEM, keyPEM, err := ca.IssueClient(name, now)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(name, len(certPEM) > 0, len(keyPEM) > 0)
	}
	// Output:
	// pi-001 true true
	// pi-002 true true
}

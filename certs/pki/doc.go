// Package pki makes certificates: a CA (or loads one), the broker's server
// certificate and client certificates, and InitPKI lays out a folder as the
// tutorial's openssl commands do (`edgepub certs init`), with subjectAltNames
// and key usages that Go and mosquitto both verify strictly.
package pki

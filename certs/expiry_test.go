package certs_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/testutil"
)

func TestDaysLeftBoundaries(t *testing.T) {
	t.Parallel()
	c := &x509.Certificate{NotBefore: t0.Add(-365 * 24 * time.Hour), NotAfter: t0}
	day := 24 * time.Hour
	for _, tc := range []struct {
		left time.Duration // NotAfter − now
		want int
	}{
		{30 * day, 30},
		{day + time.Nanosecond, 1},
		{day, 1},
		{day - time.Nanosecond, 0},
		{0, 0},
		{-time.Nanosecond, -1},
		{-day, -1},
		{-day - time.Nanosecond, -2},
	} {
		if got := certs.DaysLeft(c, t0.Add(-tc.left)); got != tc.want {
			t.Errorf("%v before expiry: DaysLeft = %d, want %d", tc.left, got, tc.want)
		}
	}
}

func TestGradeBoundaries(t *testing.T) {
	t.Parallel()
	c := &x509.Certificate{NotBefore: t0.Add(-365 * 24 * time.Hour), NotAfter: t0}
	day := 24 * time.Hour
	for _, tc := range []struct {
		left time.Duration
		want certs.Level
	}{
		{31 * day, certs.LevelOK},
		{30*day + time.Nanosecond, certs.LevelOK},
		{30 * day, certs.LevelWarning},
		{7*day + time.Nanosecond, certs.LevelWarning},
		{7 * day, certs.LevelError},
		{0, certs.LevelError}, // NotAfter itself is still valid
		{-time.Nanosecond, certs.LevelExpired},
		{366 * day, certs.LevelNotYetValid},
	} {
		if got := certs.Grade(c, t0.Add(-tc.left), 30, 7); got != tc.want {
			t.Errorf("%v before expiry: %s, want %s", tc.left, got, tc.want)
		}
	}
}

// expiryFixture is a Source whose client certificate expires at clientEnd
// and whose CA is fresh.
func expiryFixture(t *testing.T, clientEnd time.Time) (*certs.Source, *pki.CA) {
	t.Helper()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	c, k, err := ca.Issue(pki.IssueRequest{CommonName: "Kai", NotBefore: t0.Add(-400 * 24 * time.Hour), NotAfter: clientEnd})
	if err != nil {
		t.Fatal(err)
	}
	dir := deviceDir(t, ca.CertPEM(), "Kai", c, k)
	b, err := certs.Load(dir, certs.Names{}, t0)
	if b == nil {
		t.Fatal(err)
	}
	return certs.NewSource(dir, certs.Names{}, b, nil), ca
}

type logRecord map[string]any

func records(t *testing.T, buf *testutil.Buffer) []logRecord {
	t.Helper()
	var out []logRecord
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r logRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func TestExpiryWatcherLevels(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for _, tc := range []struct {
		name      string
		left      time.Duration
		wantLevel string
		wantID    string
		wantDays  float64
		wantMsg   string
	}{
		{"fine", 100 * day, "", "", 100, ""},
		{"warn", 20*day + time.Hour, "WARN", logging.MsgCertExpiring, 20, "client certificate expires soon (20 days left)"},
		{"error", 5 * day, "ERROR", logging.MsgCertExpiring, 5, "client certificate expires in 5 days: renew it now"},
		{"expired", -3 * day, "ERROR", logging.MsgCertExpired, -3, "client certificate has expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, _ := expiryFixture(t, t0.Add(tc.left))
			buf := &testutil.Buffer{}
			w := certs.NewExpiryWatcher(src, certs.ExpiryOpts{Now: func() time.Time { return t0 }, Logger: jsonLogger(buf)})
			statuses := w.Check(context.Background())
			if len(statuses) != 2 || statuses[0].Which != "client" || statuses[1].Which != "ca" {
				t.Fatalf("statuses %+v", statuses)
			}
			recs := records(t, buf)
			if tc.wantLevel == "" {
				if len(recs) != 0 {
					t.Errorf("records for a fine certificate: %v", recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("want one record, got %v", recs)
			}
			r := recs[0]
			if r["level"] != tc.wantLevel || r[logging.MessageIDKey] != tc.wantID || r["cert"] != "client" ||
				r["file"] != src.Current().CertFile || r["cert_days_left"] != tc.wantDays || r["not_after"] == nil ||
				!strings.HasPrefix(r["msg"].(string), tc.wantMsg) {
				t.Errorf("record %v", r)
			}
			if days, ok := daysLeftOf(w, "client"); !ok || days != int(tc.wantDays) {
				t.Errorf("DaysLeftOf(client) = %d, %v", days, ok)
			}
		})
	}
}

func TestExpiryWatcherBrokerAndMinimum(t *testing.T) {
	t.Parallel()
	src, ca := expiryFixture(t, t0.Add(200*24*time.Hour))
	buf := &testutil.Buffer{}
	w := certs.NewExpiryWatcher(src, certs.ExpiryOpts{Now: func() time.Time { return t0 }, Logger: jsonLogger(buf)})
	if _, ok := daysLeftOf(w, "broker"); ok {
		t.Error("broker days known before any connection")
	}
	if days, ok := w.DaysLeft(); !ok || days != 200 {
		t.Errorf("DaysLeft = %d, %v; want the client's 200", days, ok)
	}
	srvPEM, _, err := ca.Issue(pki.IssueRequest{CommonName: "broker", Server: true, Hosts: []string{"broker"}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(10 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	broker := parseCertPEM(t, srvPEM)
	w.SetBrokerCert(broker)
	w.SetBrokerCert(broker) // the same certificate again: no second record
	recs := records(t, buf)
	if len(recs) != 1 || recs[0]["cert"] != "broker" || recs[0]["cert_days_left"] != float64(10) || recs[0][logging.MessageIDKey] != logging.MsgCertExpiring {
		t.Errorf("records %v", recs)
	}
	if days, ok := w.DaysLeft(); !ok || days != 10 {
		t.Errorf("DaysLeft = %d, %v; want the broker's 10", days, ok)
	}
}

func TestExpiryWatcherRunChecksAtStart(t *testing.T) {
	t.Parallel()
	src, _ := expiryFixture(t, t0.Add(-time.Hour))
	buf := &testutil.Buffer{}
	w := certs.NewExpiryWatcher(src, certs.ExpiryOpts{Now: func() time.Time { return t0 }, Logger: jsonLogger(buf), Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	testutil.Eventually(t, 5*time.Second, "an expired record at start", func() bool {
		return strings.Contains(buf.String(), logging.MsgCertExpired)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), logging.MsgCertExpired) {
		t.Errorf("no expired record at start: %s", buf.String())
	}
}

// daysLeftOf is the fewest days left among the certificates of one kind in
// the watcher's statuses; ok is false when there is none.
func daysLeftOf(w *certs.ExpiryWatcher, which string) (days int, ok bool) {
	for _, st := range w.Statuses() {
		if st.Which == which && (!ok || st.DaysLeft < days) {
			days, ok = st.DaysLeft, true
		}
	}
	return days, ok
}

// Start checks on a timer: at once, within a minute of a rotated client
// pair, every Interval, and no more after ctx is cancelled.
func TestExpiryWatcherStartChecksOnRotationAndInterval(t *testing.T) {
	src, _ := expiryFixture(t, t0.Add(-time.Hour)) // expired: every check logs it
	synctest.Test(t, func(t *testing.T) {
		buf := &testutil.Buffer{}
		w := certs.NewExpiryWatcher(src, certs.ExpiryOpts{Now: func() time.Time { return t0 }, Logger: jsonLogger(buf), Interval: time.Hour})
		ctx, cancel := context.WithCancel(t.Context())
		checks := func() int { return strings.Count(buf.String(), logging.MsgCertExpired) }
		loop := w.Start(ctx)
		synctest.Wait()
		if n := checks(); n != 1 {
			t.Fatalf("%d checks at start, want 1", n)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if n := checks(); n != 1 {
			t.Fatalf("%d checks after 5 min without rotation, want 1", n)
		}
		if err := src.Reload(t0); err == nil {
			t.Fatal("reload of an expired pair: no error")
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := checks(); n != 2 {
			t.Fatalf("%d checks a minute after the rotation, want 2", n)
		}
		time.Sleep(time.Hour - 6*time.Minute)
		synctest.Wait()
		if n := checks(); n != 3 {
			t.Fatalf("%d checks an hour after the start, want 3", n)
		}
		cancel()
		synctest.Wait()
		if !testutil.Closed(loop.Done()) {
			t.Fatal("loop still running after ctx was cancelled")
		}
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if n := checks(); n != 3 {
			t.Fatalf("%d checks, want none after the cancel", n)
		}
	})
}

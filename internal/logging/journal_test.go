package logging

import (
	"log/slog"
	"regexp"
	"strings"
	"testing"

	slogjournal "github.com/systemd/slog-journal"
)

var validField = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

func TestJournalFieldNames(t *testing.T) {
	for _, tc := range []struct{ attr, field string }{
		{"device", "DEVICE"},
		{"broker", "BROKER"},
		{"sensor", "SENSOR"},
		{"topic", "TOPIC"},
		{"backlog", "BACKLOG"},
		{"cert_days_left", "CERT_DAYS_LEFT"},
		{"error", "ERROR"},
		{MessageIDKey, "MESSAGE_ID"},
		{"certDaysLeft", "CERT_DAYS_LEFT"},
		{"i2c-bus", "I2C_BUS"},
		{"addr.0x76", "ADDR_0X76"},
		{"_hidden", "HIDDEN"},
		{"1wire", "N1WIRE"},
		{"message", "EDGEPUB_MESSAGE"},
		{"priority", "EDGEPUB_PRIORITY"},
		{"code_file", "EDGEPUB_CODE_FILE"},
		{"syslog_identifier", "EDGEPUB_SYSLOG_IDENTIFIER"},
		{"größe", "GR__E"},
		{"", ""},
		{"--", ""},
		{strings.Repeat("a", 70), strings.Repeat("A", 64)},
	} {
		got := journalField(tc.attr)
		if got != tc.field {
			t.Errorf("journalField(%q) = %q, want %q", tc.attr, got, tc.field)
		}
		if got != "" && !validField.MatchString(got) {
			t.Errorf("journalField(%q) = %q is no valid journald field name", tc.attr, got)
		}
	}
}

func TestJournalAttrDropsUnnameableAndRedacts(t *testing.T) {
	if got := journalAttr(nil, slog.String("--", "x")); !got.Equal(slog.Attr{}) {
		t.Errorf("journalAttr(--) = %v, want the empty Attr that slog-journal skips", got)
	}
	if got := journalAttr(nil, slog.String("client_key", "-----BEGIN EC PRIVATE KEY-----")); got.Key != "CLIENT_KEY" || got.Value.String() != redacted {
		t.Errorf("journalAttr(client_key) = %v, want CLIENT_KEY=%s", got, redacted)
	}
	if got := journalAttr(nil, slog.Int("backlog", 12)); got.Key != "BACKLOG" || got.Value.Int64() != 12 {
		t.Errorf("journalAttr(backlog=12) = %v, want BACKLOG=12", got)
	}
}

func TestJournalLevels(t *testing.T) {
	for _, tc := range []struct {
		level slog.Level
		want  slog.Level
	}{
		{slog.LevelDebug - 4, slog.LevelDebug},
		{slog.LevelDebug, slog.LevelDebug},
		{slog.LevelInfo, slog.LevelInfo},
		{slog.LevelInfo + 1, slogjournal.LevelNotice},
		{slog.LevelWarn, slog.LevelWarn},
		{slog.LevelWarn + 2, slog.LevelWarn},
		{slog.LevelError, slog.LevelError},
		{slog.LevelError + 3, slog.LevelError},
		{LevelCritical, slogjournal.LevelCritical},
		{LevelCritical + 8, slogjournal.LevelCritical},
	} {
		if got := journalLevel(tc.level); got != tc.want {
			t.Errorf("journalLevel(%v) = %v, want %v", tc.level, got, tc.want)
		}
	}
}

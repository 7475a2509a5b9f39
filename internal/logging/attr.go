// Package logging builds edgepub's slog.Logger: native journald records with
// structured fields when stderr is the journal, readable text elsewhere.
package logging

import "log/slog"

// MessageIDKey is the attribute key that carries a message id; the journald
// handler writes it as MESSAGE_ID.
const MessageIDKey = "message_id"

// MessageID returns the attribute that marks a record with one of the Msg ids.
func MessageID(id string) slog.Attr { return slog.String(MessageIDKey, id) }

// Package message turns a sensor reading into what edgepub sends: a JSON
// payload on the device's topic (Encode, Topic), and the framing that keeps
// topic and payload together in the outbox (Frame, Unframe). The daemon
// encodes with it, the publisher decodes; the outbox stores the frames as
// opaque bytes.
package message

// Package jsonwire is the fast path of the wire codecs: append-style
// writers that produce exactly what encoding/json produces for the same
// value, and a Reader that walks one JSON document without reflection.
//
// The hot messages (status updates, acknowledgements, task launches,
// offers) are encoded and decoded with it by hand-written codecs next to
// their types (core/mesos, core/agentapi, core). Those codecs are a fast
// path only: a decoder that meets anything it does not expect (an unknown
// or repeated key, a null, an escaped string, a number out of range)
// gives up, and the caller decodes the same bytes with encoding/json,
// which then either succeeds with the same result or produces the error
// message clients see. Differential tests and fuzz targets next to each
// codec check both halves of that contract: whatever the fast path
// accepts, encoding/json decodes to an equal value, and whatever it
// writes is byte for byte what encoding/json writes.
package jsonwire

// Package daemon holds what masterd and agentd share at their edges: the
// log set-up from --log_level, fasthttp's logger, and the JSON answers and
// request checks of their HTTP APIs (errors are {"error": "..."}).
package daemon

// Package agent holds the pure parts of the agent: the status update
// manager, which makes task status updates reliable and ordered between
// an agent's executors and its frameworks. agentd owns the processes,
// sockets and files around it.
package agent

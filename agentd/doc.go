// Command agentd is meseta's agent daemon: flags, wiring, HTTP, and the
// executors that run tasks as real OS processes. It arrives with the cluster
// issue; for now it only holds this description.
package main

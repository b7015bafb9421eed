// Command devcluster is what `make run` starts: one standalone masterd
// (Pebble registry) and a few agentd processes on 127.0.0.1, each with
// its own work directory under --work_dir. It prints where the API and
// the UI are, with an example curl, and on Ctrl-C (SIGINT or SIGTERM)
// stops the agents and then the master, and waits for them.
package main

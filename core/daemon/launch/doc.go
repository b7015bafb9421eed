// Package launch builds meseta's daemons from the module's source and
// finds where a started daemon listens. The end-to-end tests, the load
// generator and the development cluster share it, so that they build the
// binaries the same way (with -race when the caller was built with it:
// Race) and read the same "listening on http://ADDR" line that masterd
// and agentd print on stdout.
package launch

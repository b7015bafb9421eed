// Command masterd is meseta's master daemon: flags, wiring, HTTP and the
// processes around the core master state machine. It arrives with the
// cluster issue; for now it only holds this description.
package main

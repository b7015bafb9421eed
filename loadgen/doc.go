// Command loadgen drives real meseta daemons with simulated agents and
// synthetic frameworks and reports what the master sustained. It arrives
// with the loadgen issue; for now it only holds this description.
package main

//go:build !race

package simagent

const raceEnabled = false

//go:build race

package launch

// Race reports whether this binary was built with -race.
const Race = true

// Package flagdoc keeps the operator documentation and the binaries' flags
// in agreement, for tests: it reads a binary's help text (FlagenvHelp for
// the daemons' flagenv.Usage, GoFlagHelp for the flag package's) and the
// flag table of a docs page (a heading, then rows of
// | `--name` | `default` | meaning |), and Check reports every difference.
// masterd, agentd, `agentd executor` and devcluster each have a
// TestFlagsDocumented that uses it against docs/operations.md.
package flagdoc

package flagenv

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"meseta/core"
)

// Duration is a flag.Value for durations in Mesos's or Go's form.
type Duration struct{ D *time.Duration }

func (d Duration) String() string {
	if d.D == nil {
		return ""
	}
	return core.FormatDuration(*d.D)
}

// Set parses s.
func (d Duration) Set(s string) error {
	v, err := core.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("must not be negative")
	}
	*d.D = v
	return nil
}

// DurationVar defines a duration flag.
func DurationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(Duration{p}, name, usage)
}

// EnvName is the environment variable for a flag: MESETA_ + upper case.
func EnvName(prefix, flagName string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args into fs, after applying every MESETA_<FLAG> variable
// that getenv knows for a flag not given on the command line. A bad
// value names the flag, or the variable it came from.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string, prefix string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags are --name=value)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		env := EnvName(prefix, f.Name)
		if v := getenv(env); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("invalid value %q for %s (flag --%s): %v", v, env, f.Name, e)
			}
		}
	})
	return err
}

// Values returns every flag's current value, for /master/flags.
func Values(fs *flag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { out[f.Name] = f.Value.String() })
	return out
}

// Usage writes the flags with defaults, sorted, Mesos style.
func Usage(w io.Writer, fs *flag.FlagSet, prefix string) {
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		lines = append(lines, fmt.Sprintf("  --%s=%s\n      %s (env %s)\n", f.Name, f.DefValue, f.Usage, EnvName(prefix, f.Name)))
	})
	sort.Strings(lines)
	fmt.Fprint(w, strings.Join(lines, ""))
}

package daemon

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// Profiles writes a CPU profile (for the life of the process) and a heap
// profile (at the end) for the --cpuprofile and --memprofile flags. An
// empty path leaves that profile out. Stop must be called once, at exit.
type Profiles struct {
	cpu     *os.File
	memPath string
}

// StartProfiles starts the CPU profile into cpuPath, if it is not empty,
// and remembers memPath for Stop. The error names the file.
func StartProfiles(cpuPath, memPath string) (*Profiles, error) {
	p := &Profiles{memPath: memPath}
	if cpuPath == "" {
		return p, nil
	}
	f, err := os.Create(cpuPath)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", cpuPath, err)
	}
	p.cpu = f
	return p, nil
}

// Stop ends the CPU profile and writes the heap profile (after a
// collection, so that it shows live memory).
func (p *Profiles) Stop() error {
	var errs []error
	if p.cpu != nil {
		pprof.StopCPUProfile()
		errs = append(errs, p.cpu.Close())
	}
	if p.memPath != "" {
		runtime.GC()
		f, err := os.Create(p.memPath)
		if err != nil {
			errs = append(errs, fmt.Errorf("memory profile: %w", err))
		} else {
			errs = append(errs, pprof.Lookup("heap").WriteTo(f, 0), f.Close())
		}
	}
	return errors.Join(errs...)
}

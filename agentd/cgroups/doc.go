// Package cgroups owns the per-container resource limits of the tasks the
// agent starts: one control group per container, created under a parent
// group that belongs to the agent, with CPU, memory and process-count limits,
// membership (Add, PIDs), teardown (Kill, Destroy) and usage (Stats).
//
// It owns nothing else: it does not start processes, choose container ids,
// or decide what to do when a container is OOM-killed; the executor does.
//
// # Layouts
//
// New inspects /proc/self/mountinfo and /proc/self/cgroup and picks one of
// three modes:
//
//   - "v2": the unified hierarchy (cgroup2, normally at /sys/fs/cgroup)
//     offers the memory and cpu controllers. The parent group is created at
//     the root of the hierarchy (as seen in the agent's cgroup namespace),
//     because v2 forbids enabling controllers below a cgroup that holds
//     processes, and the agent's own cgroup holds the agent. Controllers
//     (memory, cpu, pids when offered) are enabled in cgroup.subtree_control
//     of every group from the hierarchy root down to the parent. Limits:
//     memory.max (and memory.swap.max = 0 when present), cpu.max,
//     cpu.weight, pids.max. Kill uses cgroup.kill where the kernel has it.
//   - "v1": separate hierarchies (cpu, cpuacct, memory, pids under
//     /sys/fs/cgroup/<controller>, co-mounts such as cpu,cpuacct included),
//     used when memory and cpu are mounted as v1 (this includes the hybrid
//     layout, whose unified mount carries no controllers). The parent group
//     is created inside the agent's own cgroup of each hierarchy, so tasks
//     stay accounted to, and bounded by, whatever encloses the agent; run the
//     agent in a stable cgroup if Open must find groups after a restart.
//     Limits: memory.limit_in_bytes (and memory.memsw.limit_in_bytes when
//     present and writable), cpu.cfs_quota_us/cpu.cfs_period_us, cpu.shares,
//     pids.max. cpuacct and pids are optional: without them Stats has no CPU
//     time and a PIDs limit is refused.
//   - "none": neither layout is usable (controllers missing, not privileged,
//     read-only cgroupfs, v2 root busy with processes). Reason says why.
//     Groups then only remember the pids given to Add, so Kill and PIDs still
//     work for those processes (and the process groups they lead); every
//     other method is a no-op.
//
// # Limits
//
// A zero field in Limits means "no limit" for that resource. CPUs sets a CFS
// quota of CPUs × 100ms per 100ms period (at least 1ms) and a proportional
// weight: 1024 shares per CPU in v1 (as Mesos does, clamped to 2..262144),
// 100 weight per CPU in v2 (the v2 default weight is one CPU, clamped to
// 1..10000). MemoryBytes is a hard limit with no swap on top of it; the
// kernel rounds it down to a page multiple. PIDs caps the number of tasks
// (threads count) in the group.
//
// Container names must be a single path element: non-empty, at most 255
// bytes, no '/', no "..", no leading '.', no control characters.
package cgroups

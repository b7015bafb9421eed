package synth

import (
	"maps"
	"time"

	"meseta/core/mesos"
)

// Stats is what a framework (or a group, summed) saw and did.
type Stats struct {
	Subscribes      int64 // SUBSCRIBED events: the first and every re-subscription
	Redirects       int64 // 307 answers followed
	OffersReceived  int64
	OffersAccepted  int64 // offers used by an ACCEPT with at least one task
	OffersDeclined  int64 // offers declined (with the filter)
	OffersRescinded int64
	TasksLaunched   int64 // tasks in ACCEPT calls the master took (202)
	Acks            int64 // ACKNOWLEDGE calls that got 202
	// Duplicates are updates whose task, state and uuid came before on
	// the same subscription. The master resends an update on one
	// subscription only when the agent's retry finds it written out and
	// still unacknowledged (core/master's "Status update retries"), so
	// each shows an acknowledgement lost, or later than the agents'
	// retry interval. Redelivered are those that came before on an
	// earlier subscription: after a master failover the new master
	// cannot know what the old one delivered, and delivery is at least
	// once.
	Duplicates, Redelivered int64
	// DuplicateSamples describes the first few duplicates (Add keeps at
	// most maxSamples).
	DuplicateSamples []string
	Heartbeats       int64
	Suppresses       int64
	Revives          int64
	CallErrors       int64 // calls that failed or were refused
	// CallErrorSamples are the first few of those errors (Add keeps at
	// most maxSamples).
	CallErrorSamples []string
	// Updates counts UPDATE events by state (duplicates included).
	Updates map[mesos.TaskState]int64
	// Why holds the reason and message of the first TASK_LOST,
	// TASK_DROPPED and TASK_ERROR seen (Add keeps the first of each).
	Why map[mesos.TaskState]string
	// LostReasons counts TASK_LOST and TASK_DROPPED updates by reason.
	// REASON_INVALID_OFFERS marks a launch refused because its offer was
	// rescinded meanwhile: a task that never ran, which the framework
	// launches again.
	LostReasons map[string]int64
	// Latencies holds submit→TASK_RUNNING for every task that reached
	// TASK_RUNNING, submit being when its ACCEPT call was sent.
	Latencies []time.Duration

	frameworkID string
}

// Progress counts a framework's tasks by where they are, kept as updates
// arrive so that reading it costs nothing at any scale.
type Progress struct {
	Launched int64 // tasks in ACCEPT calls the master took
	Running  int64 // tasks whose latest state is TASK_RUNNING
	// Started counts the tasks whose first TASK_RUNNING was received and
	// acknowledged (202); Ended those with a terminal update.
	Started, Ended int64
}

// Add adds o into p.
func (p *Progress) Add(o Progress) {
	p.Launched += o.Launched
	p.Running += o.Running
	p.Started += o.Started
	p.Ended += o.Ended
}

// Add adds o into s.
func (s *Stats) Add(o Stats) {
	s.Subscribes += o.Subscribes
	s.Redirects += o.Redirects
	s.OffersReceived += o.OffersReceived
	s.OffersAccepted += o.OffersAccepted
	s.OffersDeclined += o.OffersDeclined
	s.OffersRescinded += o.OffersRescinded
	s.TasksLaunched += o.TasksLaunched
	s.Acks += o.Acks
	s.Duplicates += o.Duplicates
	s.Redelivered += o.Redelivered
	for _, d := range o.DuplicateSamples {
		if len(s.DuplicateSamples) < maxSamples {
			s.DuplicateSamples = append(s.DuplicateSamples, d)
		}
	}
	s.Heartbeats += o.Heartbeats
	s.Suppresses += o.Suppresses
	s.Revives += o.Revives
	s.CallErrors += o.CallErrors
	for _, e := range o.CallErrorSamples {
		if len(s.CallErrorSamples) < maxSamples {
			s.CallErrorSamples = append(s.CallErrorSamples, e)
		}
	}
	if len(o.Updates) > 0 && s.Updates == nil {
		s.Updates = map[mesos.TaskState]int64{}
	}
	for k, v := range o.Updates {
		s.Updates[k] += v
	}
	for k, v := range o.LostReasons {
		if s.LostReasons == nil {
			s.LostReasons = map[string]int64{}
		}
		s.LostReasons[k] += v
	}
	for k, v := range o.Why {
		if _, ok := s.Why[k]; !ok {
			if s.Why == nil {
				s.Why = map[mesos.TaskState]string{}
			}
			s.Why[k] = v
		}
	}
	s.Latencies = append(s.Latencies, o.Latencies...)
}

// clone copies s; without latencies, Latencies is left out (it grows
// with every task, and a monitor that reads counters once a second does
// not need it).
func (s *Stats) clone(latencies bool) Stats {
	c := *s
	c.Updates = maps.Clone(s.Updates)
	c.Why = maps.Clone(s.Why)
	c.LostReasons = maps.Clone(s.LostReasons)
	c.Latencies = nil
	if latencies {
		c.Latencies = append([]time.Duration(nil), s.Latencies...)
	}
	return c
}

// Task is a framework's record of one launched task.
type Task struct {
	ID, AgentID string
	Submitted   time.Time       // when its ACCEPT call was sent
	Running     time.Time       // first TASK_RUNNING; zero if none
	State       mesos.TaskState // latest state received
	// Terminal counts the distinct terminal updates received (1 for a
	// task that ended once, as it should; duplicates not counted).
	Terminal int
	// seen lists the (state, uuid) pairs received, to spot duplicates;
	// a task sees a handful of updates, so a slice beats a map.
	seen []stateUUID
}

type stateUUID struct {
	state mesos.TaskState
	uuid  string
	sub   int64     // the subscription (Stats.Subscribes) it last came on
	at    time.Time // when it last came
}

// maxSamples bounds Stats.DuplicateSamples.
const maxSamples = 10

// callError counts a failed call and keeps the first few errors.
func (s *Stats) callError(err error) {
	s.CallErrors++
	if len(s.CallErrorSamples) < maxSamples {
		s.CallErrorSamples = append(s.CallErrorSamples, err.Error())
	}
}

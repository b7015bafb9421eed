package main

import (
	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/recordio"
)

// frameworkConn is a framework's stream, as core/master.Conn.
type frameworkConn struct{ *recordio.Stream }

func (c frameworkConn) Send(ev *mesos.Event) bool { return c.SendJSON(ev) }

// agentConn is an agent's stream, as core/master.AgentConn.
type agentConn struct{ *recordio.Stream }

func (c agentConn) Send(ev *agentapi.Event) bool { return c.SendJSON(ev) }

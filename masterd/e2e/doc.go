// Package e2e holds meseta's end-to-end tests: they build the real
// masterd and agentd binaries once (TestMain), start them as processes on
// loopback with their own work directories, and drive them with a test
// framework that speaks the Mesos v1 scheduler HTTP API as a plain HTTP
// client. Tasks run as real processes under real executors.
package e2e

// Package sandbox serves the agent's file browsing endpoints,
// /files/browse, /files/read and /files/download, with the request and
// response shapes of the Mesos agent, restricted to the directory that
// holds all executor sandboxes.
//
// The package owns the decision of which host paths may be served: a
// requested path must be absolute and lie under [Server.Root] both as
// written (after removing "." and ".." elements) and after every symbolic
// link in it is resolved. Files are then opened through an [os.Root] on
// that directory, so a link swapped in after the check still cannot lead
// outside it. Refusals are reported as JSON objects {"error": "..."} with
// status 400 (malformed request), 403 (outside the root) or 404 (missing).
//
// Routing the endpoints to URLs is left to the caller.
package sandbox

// Package fetcher downloads a task's CommandInfo.uris into its sandbox
// before the task is launched, in the spirit of the Mesos fetcher.
//
// The package owns three things:
//
//   - retrieving each URI (http://, https://, file:// and bare absolute
//     host paths) into a named file inside the sandbox, written to a
//     temporary name and renamed into place so that a failed fetch never
//     leaves a partial file behind;
//   - post-processing of the fetched file: marking it executable, or
//     unpacking tar (.tar, .tar.gz, .tgz, .tar.bz2, .tbz2), zip and plain
//     gzip (.gz) files into the sandbox;
//   - keeping every write inside the sandbox. All file system access goes
//     through an [os.Root] opened on the sandbox, archive entries with
//     absolute or escaping names are refused, and symbolic links are only
//     created when their target stays inside the sandbox.
//
// The fetcher cache (CommandInfo.URI.cache) is not implemented: a URI with
// Cache set is fetched directly, which is what Mesos does when caching is
// unavailable.
package fetcher

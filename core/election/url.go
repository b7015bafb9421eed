package election

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode/utf8"
)

// defaultPort is ZooKeeper's client port, used for hosts given without one
// (as ZooKeeper's own connect strings do).
const defaultPort = "2181"

// ParseURL parses Mesos's --zk form, zk://host1:port1,host2:port2/path,
// into "host:port" servers and a znode path.
//
//   - The scheme is zk:// (in any case). Mesos's file:// indirection is not
//     read here.
//   - Hosts are names, IPv4 addresses or bracketed IPv6 addresses; a missing
//     port means 2181. Ports are 1 to 65535.
//   - Credentials (zk://user:pass@hosts/path, ZooKeeper digest auth) are
//     refused: this package does not authenticate.
//   - The path is required, is not "/", has no empty, "." or ".." segments,
//     no trailing "/", none of the characters ZooKeeper forbids, and is not
//     under /zookeeper (ZooKeeper's own).
//
// Errors name the part that is wrong.
func ParseURL(s string) (servers []string, path string, err error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return nil, "", fmt.Errorf("election: %q is not a zk:// URL (want zk://host1:port1,host2:port2/path)", s)
	}
	if !strings.EqualFold(scheme, "zk") {
		return nil, "", fmt.Errorf("election: URL scheme %q is not zk (want zk://host1:port1,host2:port2/path)", scheme)
	}
	hosts, path, ok := strings.Cut(rest, "/")
	path = "/" + path
	if !ok || path == "/" {
		return nil, "", fmt.Errorf("election: URL %q has no znode path (want zk://host1:port1,host2:port2/path)", s)
	}
	if strings.Contains(hosts, "@") {
		return nil, "", fmt.Errorf("election: URL %q has credentials; ZooKeeper authentication is not supported", s)
	}
	if hosts == "" {
		return nil, "", fmt.Errorf("election: URL %q has no hosts", s)
	}
	for h := range strings.SplitSeq(hosts, ",") {
		server, err := parseHost(h)
		if err != nil {
			return nil, "", err
		}
		servers = append(servers, server)
	}
	if err := validatePath(path); err != nil {
		return nil, "", err
	}
	return servers, path, nil
}

// parseHost turns one host[:port] of a zk:// URL into host:port.
func parseHost(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("election: empty host in the zk:// host list")
	}
	host, port := h, defaultPort
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", fmt.Errorf("election: host %q: missing ']'", h)
		}
		host = h[1:end]
		switch after := h[end+1:]; {
		case after == "":
		case strings.HasPrefix(after, ":"):
			port = after[1:]
		default:
			return "", fmt.Errorf("election: host %q: unexpected %q after ']'", h, after)
		}
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return "", fmt.Errorf("election: host %q: %q in brackets is not an IPv6 address", h, host)
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if strings.Contains(host, ":") {
			return "", fmt.Errorf("election: host %q: put IPv6 addresses in brackets, e.g. [::1]:2181", h)
		}
	}
	if host == "" {
		return "", fmt.Errorf("election: host %q has no host name", h)
	}
	if !strings.HasPrefix(h, "[") && !validHostName(host) {
		return "", fmt.Errorf("election: host %q: %q is not a host name or IPv4 address", h, host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "", fmt.Errorf("election: host %q: port %q is not a number from 1 to 65535", h, port)
	}
	return net.JoinHostPort(host, port), nil
}

// validHostName accepts DNS names and IPv4 addresses: letters, digits, '-',
// '_' and '.', not starting or ending with '.'.
func validHostName(h string) bool {
	if h == "" || h[0] == '.' || h[len(h)-1] == '.' || len(h) > 253 {
		return false
	}
	for _, r := range h {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

// validatePath checks a znode path for election use: ZooKeeper's rules
// (absolute, no empty, "." or ".." segments, no trailing '/', no NUL or
// control characters, none of U+F000..U+F8FF or U+FFF0..U+FFFF), not the
// root and not under /zookeeper.
func validatePath(path string) error {
	if path == "" || path[0] != '/' {
		return fmt.Errorf("election: znode path %q is not absolute", path)
	}
	if path == "/" {
		return fmt.Errorf("election: znode path is the root; give one such as /mesos")
	}
	if !utf8.ValidString(path) {
		return fmt.Errorf("election: znode path %q is not valid UTF-8", path)
	}
	for seg := range strings.SplitSeq(path[1:], "/") {
		switch seg {
		case "":
			return fmt.Errorf("election: znode path %q has an empty segment or a trailing '/'", path)
		case ".", "..":
			return fmt.Errorf("election: znode path %q has a %q segment", path, seg)
		}
	}
	for _, r := range path {
		switch {
		case r <= 0x1f, 0x7f <= r && r <= 0x9f, 0xf000 <= r && r <= 0xf8ff, 0xfff0 <= r && r <= 0xffff:
			return fmt.Errorf("election: znode path %q has the forbidden character %U", path, r)
		}
	}
	if path == "/zookeeper" || strings.HasPrefix(path, "/zookeeper/") {
		return fmt.Errorf("election: znode path %q is under /zookeeper, which ZooKeeper keeps for itself", path)
	}
	return nil
}

package election

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	ok := []struct {
		url     string
		servers []string
		path    string
	}{
		{"zk://127.0.0.1:2181/mesos", []string{"127.0.0.1:2181"}, "/mesos"},
		{"zk://h1:1,h2:2,h3:3/mesos/prod", []string{"h1:1", "h2:2", "h3:3"}, "/mesos/prod"},
		// A host without a port gets ZooKeeper's 2181.
		{"zk://zk.example.com/mesos", []string{"zk.example.com:2181"}, "/mesos"},
		{"ZK://h:65535/m", []string{"h:65535"}, "/m"},
		{"zk://[::1]:2181/m", []string{"[::1]:2181"}, "/m"},
		{"zk://[::1]/m", []string{"[::1]:2181"}, "/m"},
		{"zk://h:1/zookeeper-not/m", []string{"h:1"}, "/zookeeper-not/m"},
		{"zk://h:1/..a/b.", []string{"h:1"}, "/..a/b."},
	}
	for _, tc := range ok {
		servers, path, err := ParseURL(tc.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.url, err)
			continue
		}
		if !slices.Equal(servers, tc.servers) || path != tc.path {
			t.Errorf("ParseURL(%q) = %q, %q; want %q, %q", tc.url, servers, path, tc.servers, tc.path)
		}
	}

	bad := []struct {
		url  string
		want string // in the error
	}{
		{"", "not a zk:// URL"},
		{"h:2181/mesos", "not a zk:// URL"},
		{"http://h:2181/mesos", `scheme "http" is not zk`},
		{"file:///etc/mesos/zk", `scheme "file" is not zk`},
		{"zk://h:2181", "no znode path"},
		{"zk://h:2181/", "no znode path"},
		{"zk://user:secret@h:2181/mesos", "credentials"},
		{"zk:///mesos", "no hosts"},
		{"zk://h1:1,,h2:2/m", "empty host"},
		{"zk://h1:1,/m", "empty host"},
		{"zk://h:0/m", `port "0"`},
		{"zk://h:65536/m", `port "65536"`},
		{"zk://h:x/m", `port "x"`},
		{"zk://h:/m", `port ""`},
		{"zk://h:02181/m", `port "02181"`},
		{"zk://:2181/m", "no host name"},
		{"zk://::1:2181/m", "brackets"},
		{"zk://[::1/m", "missing ']'"},
		{"zk://[::1]x/m", "after ']'"},
		{"zk://[1.2.3.4]:1/m", "not an IPv6 address"},
		{"zk://h%20:1/m", "not a host name"},
		{"zk://h:1/a//b", "empty segment"},
		{"zk://h:1/a/", "trailing '/'"},
		{"zk://h:1/a/./b", `"." segment`},
		{"zk://h:1/a/..", `".." segment`},
		{"zk://h:1/a\x00b", "forbidden character"},
		{"zk://h:1/a\x7fb", "forbidden character"},
		{"zk://h:1/zookeeper", "under /zookeeper"},
		{"zk://h:1/zookeeper/quota", "under /zookeeper"},
		{"zk://h:1/\xff", "UTF-8"},
	}
	for _, tc := range bad {
		servers, path, err := ParseURL(tc.url)
		if err == nil {
			t.Errorf("ParseURL(%q) = %q, %q; want an error with %q", tc.url, servers, path, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURL(%q): %v; want it to mention %q", tc.url, err, tc.want)
		}
	}
}

// FuzzParseURL checks that ParseURL never panics, that what it accepts is
// well formed, and that printing an accepted URL back and parsing it again
// gives the same result.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"zk://127.0.0.1:2181/mesos",
		"zk://h1:1,h2:2,h3:3/mesos/prod",
		"zk://[::1]/m",
		"zk://u:p@h:1/m",
		"zk://h:1/a//b",
		"zk://h:1/zookeeper",
		"ZK://a.b-c_d:65535/x/y.z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		servers, path, err := ParseURL(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "election: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		if len(servers) == 0 {
			t.Fatalf("ParseURL(%q) accepted no servers", s)
		}
		for _, srv := range servers {
			host, port, err := net.SplitHostPort(srv)
			if err != nil || host == "" {
				t.Fatalf("ParseURL(%q) gave server %q: %v", s, srv, err)
			}
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				t.Fatalf("ParseURL(%q) gave port %q", s, port)
			}
		}
		if err := validatePath(path); err != nil {
			t.Fatalf("ParseURL(%q) gave path %q: %v", s, path, err)
		}
		again := "zk://" + strings.Join(servers, ",") + path
		servers2, path2, err := ParseURL(again)
		if err != nil || !slices.Equal(servers, servers2) || path != path2 {
			t.Fatalf("ParseURL(%q) = %q, %q, but its printed form %q parses as %q, %q, %v",
				s, servers, path, again, servers2, path2, err)
		}
	})
}

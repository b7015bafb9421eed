package main

import (
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"meseta/core/mesos"
)

// parse runs agentd's flag parsing with the flags every agent needs.
func parse(t *testing.T, env map[string]string, args ...string) (*config, error) {
	t.Helper()
	base := []string{"--work_dir=" + t.TempDir(), "--resources=cpus:1;mem:256;disk:256;ports:[31000-31001]"}
	return parseFlags(append(base, args...), func(k string) string { return env[k] })
}

func TestMasterFlag(t *testing.T) {
	for _, tc := range []struct {
		master  string
		servers []string // nil: a fixed host:port
		path    string
	}{
		{"127.0.0.1:5050", nil, ""},
		{"master.example:5050", nil, ""},
		{"zk://zk1:2181,zk2:2182/mesos", []string{"zk1:2181", "zk2:2182"}, "/mesos"},
		{"zk://10.0.0.1/mesos/prod", []string{"10.0.0.1:2181"}, "/mesos/prod"}, // ZooKeeper's default port
		{"ZK://[::1]:2181/mesos", []string{"[::1]:2181"}, "/mesos"},
	} {
		cfg, err := parse(t, nil, "--master="+tc.master)
		if err != nil {
			t.Errorf("--master=%s: %v", tc.master, err)
			continue
		}
		if cfg.master != tc.master || !slices.Equal(cfg.zkServers, tc.servers) || cfg.zkPath != tc.path {
			t.Errorf("--master=%s: master %q, servers %q, path %q; want servers %q, path %q",
				tc.master, cfg.master, cfg.zkServers, cfg.zkPath, tc.servers, tc.path)
		}
		if cfg.zkSessionTimeout != 10*time.Second {
			t.Errorf("--master=%s: default --zk_session_timeout %v, want Mesos's 10secs", tc.master, cfg.zkSessionTimeout)
		}
	}

	// From the environment, like every flag.
	cfg, err := parse(t, map[string]string{"MESETA_MASTER": "zk://zk1:2181/mesos", "MESETA_ZK_SESSION_TIMEOUT": "5secs"})
	if err != nil || cfg.zkPath != "/mesos" || cfg.zkSessionTimeout != 5*time.Second {
		t.Fatalf("from the environment: %+v, %v", cfg, err)
	}
	if cfg, err := parse(t, nil, "--master=zk://zk1/mesos", "--zk_session_timeout=2secs"); err != nil || cfg.zkSessionTimeout != 2*time.Second {
		t.Fatalf("--zk_session_timeout=2secs: %v", err)
	}
}

// Every bad value is refused with an error that names the flag, and for a
// bad zk:// URL also the part that is wrong.
func TestMasterFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"--master", "required"}},
		{[]string{"--master=localhost"}, []string{"--master", "host:port or zk://"}},
		{[]string{"--master=zk://zk1:2181"}, []string{"--master", "no znode path"}},
		{[]string{"--master=zk://zk1:2181/"}, []string{"--master", "no znode path"}},
		{[]string{"--master=zk:///mesos"}, []string{"--master", "no hosts"}},
		{[]string{"--master=zk://zk1:99999/mesos"}, []string{"--master", "port"}},
		{[]string{"--master=zk://jo:secret@zk1/mesos"}, []string{"--master", "credentials"}},
		{[]string{"--master=zk://zk1/zookeeper/x"}, []string{"--master", "/zookeeper"}},
		{[]string{"--master=file:///etc/mesos/zk"}, []string{"--master", "not zk"}},
		{[]string{"--master=http://m1:5050"}, []string{"--master", "not zk"}},
		{[]string{"--master=zk://zk1/mesos", "--zk_session_timeout=soon"}, []string{"zk_session_timeout"}},
		{[]string{"--master=zk://zk1/mesos", "--zk_session_timeout=0secs"}, []string{"--zk_session_timeout", "positive"}},
	} {
		_, err := parse(t, nil, tc.args...)
		if err == nil {
			t.Errorf("%q: accepted", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %q", tc.args, err, w)
			}
		}
	}
}

// ipv4 is how masterd (and Mesos) write MasterInfo.ip: the address's four
// bytes in network order, read as a little-endian uint32.
func ipv4(ip string) uint32 { return binary.LittleEndian.Uint32(net.ParseIP(ip).To4()) }

func TestMasterAddress(t *testing.T) {
	for _, tc := range []struct {
		name string
		info string
		want string
	}{
		{"address first", `{"id":"m","ip":16777343,"port":5050,"hostname":"h1",
			"address":{"hostname":"h1","ip":"10.0.0.1","port":5051}}`, "10.0.0.1:5051"},
		{"what masterd writes", mustJSON(t, mesos.MasterInfo{ID: "m", IP: ipv4("10.1.2.3"), Port: 5050, Hostname: "h1",
			PID: "master@10.1.2.3:5050", Address: &mesos.Address{Hostname: "h1", IP: "10.1.2.3", Port: 5050}}), "10.1.2.3:5050"},
		// 16777343 is 127.0.0.1: 0x0100007f.
		{"ip and port", `{"id":"m","ip":16777343,"port":5050}`, "127.0.0.1:5050"},
		{"ip in network byte order", mustJSON(t, mesos.MasterInfo{IP: ipv4("192.168.7.9"), Port: 1}), "192.168.7.9:1"},
		{"hostname", `{"id":"m","port":5050,"hostname":"m1.example"}`, "m1.example:5050"},
		{"address hostname", `{"address":{"hostname":"m2.example","port":5051}}`, "m2.example:5051"},
		{"ipv6 address", `{"address":{"ip":"::1","port":5050}}`, "[::1]:5050"},
		{"unknown fields", `{"ip":16777343,"port":5050,"domain":{"fault_domain":{}},"capabilities":[{"type":"AGENT_UPDATE"}]}`, "127.0.0.1:5050"},
	} {
		got, err := masterAddress([]byte(tc.info))
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ name, info, want string }{
		{"not JSON", `master@10.0.0.1:5050`, "MasterInfo"},
		{"no port", `{"ip":16777343,"hostname":"h1"}`, errNoAddress.Error()},
		{"nothing", `{"id":"m"}`, errNoAddress.Error()},
		{"port out of range", `{"ip":16777343,"port":70000}`, errNoAddress.Error()},
	} {
		got, err := masterAddress([]byte(tc.info))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q, %v; want an error mentioning %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := masterAddress([]byte(`{}`)); !errors.Is(err, errNoAddress) {
		t.Errorf("{}: %v, want errNoAddress", err)
	}
}

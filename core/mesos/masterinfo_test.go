package mesos

import "testing"

func TestMasterInfoHostPort(t *testing.T) {
	for _, c := range []struct {
		info MasterInfo
		want string
	}{
		{MasterInfo{Address: &Address{IP: "10.0.0.7", Port: 5050}, IP: 1, Port: 1}, "10.0.0.7:5050"},
		{MasterInfo{Address: &Address{Hostname: "m1", Port: 5051}}, "m1:5051"},
		{MasterInfo{IP: 0x0100007f, Port: 5052}, "127.0.0.1:5052"}, // 127.0.0.1 in network order
		{MasterInfo{Hostname: "m2", Port: 5053}, "m2:5053"},
		{MasterInfo{Address: &Address{IP: "::1", Port: 5054}}, "[::1]:5054"},
		{MasterInfo{Hostname: "m3"}, ""},
		{MasterInfo{Port: 5050}, ""},
		{MasterInfo{Hostname: "m4", Port: 70000}, ""},
	} {
		if got := c.info.HostPort(); got != c.want {
			t.Errorf("%+v: HostPort() = %q, want %q", c.info, got, c.want)
		}
	}
}

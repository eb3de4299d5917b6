package netstate

import (
	"reflect"
	"testing"
	"testing/fstest"
)

// TestReadNetStateNetns: /sys/class/net shows the namespace sysfs was mounted
// in; /proc/net/dev is the process's own. unshare -n gives a process a
// namespace with only lo while /sys still lists the host's eth0.
func TestReadNetStateNetns(t *testing.T) {
	dev := "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n"
	tests := []struct {
		name string
		fs   fstest.MapFS
		want State
	}{
		{"own netns has only lo, host sysfs lists eth0 up", fstest.MapFS{
			"sys/class/net/lo/operstate":   {Data: []byte("unknown\n")},
			"sys/class/net/eth0/operstate": {Data: []byte("up\n")},
			"proc/net/dev":                 {Data: []byte(dev + "    lo: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")},
		}, State{}},
		{"own netns has a veth sysfs does not list", fstest.MapFS{
			"sys/class/net/lo/operstate": {Data: []byte("unknown\n")},
			"proc/net/dev":               {Data: []byte(dev + "    lo: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n  veth0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")},
		}, State{LiveInterfaces: []string{"veth0"}}},
		{"sysfs and proc agree: sysfs state is used", fstest.MapFS{
			"sys/class/net/lo/operstate":   {Data: []byte("unknown\n")},
			"sys/class/net/eth0/operstate": {Data: []byte("down\n")},
			"proc/net/dev":                 {Data: []byte(dev + "    lo: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n  eth0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")},
		}, State{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(tt.fs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Read = %+v, want %+v", got, tt.want)
			}
		})
	}
}

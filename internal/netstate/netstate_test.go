package netstate

import (
	"reflect"
	"testing"
	"testing/fstest"
)

func TestReadNetState(t *testing.T) {
	routeHdr := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	tests := []struct {
		name string
		fs   fstest.MapFS
		want State
	}{
		{"air-gapped", fstest.MapFS{
			"sys/class/net/lo/operstate":   {Data: []byte("unknown\n")},
			"sys/class/net/eth0/operstate": {Data: []byte("down\n")},
			"proc/net/route":               {Data: []byte(routeHdr)},
		}, State{}},
		{"live interface and default route", fstest.MapFS{
			"sys/class/net/lo/operstate":    {Data: []byte("unknown\n")},
			"sys/class/net/eth0/operstate":  {Data: []byte("up\n")},
			"sys/class/net/wlan0/operstate": {Data: []byte("dormant\n")},
			"proc/net/route":                {Data: []byte(routeHdr + "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n")},
		}, State{LiveInterfaces: []string{"eth0"}, DefaultRoutes: []string{"eth0 (IPv4)"}}},
		{"tun with carrier and IPv6 default", fstest.MapFS{
			"sys/class/net/tun0/operstate": {Data: []byte("unknown\n")},
			"sys/class/net/tun0/carrier":   {Data: []byte("1\n")},
			"proc/net/ipv6_route": {Data: []byte(
				"00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     tun0\n" +
					"00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n")},
		}, State{LiveInterfaces: []string{"tun0"}, DefaultRoutes: []string{"tun0 (IPv6)"}}},
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
			if got.AirGapped() != (len(tt.want.LiveInterfaces)+len(tt.want.DefaultRoutes) == 0) {
				t.Errorf("AirGapped() = %v for %v", got.AirGapped(), got)
			}
		})
	}
}

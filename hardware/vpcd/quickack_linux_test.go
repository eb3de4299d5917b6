package vpcd

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

func TestQuickAckIsSet(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := quickAck(rc); err != nil {
		t.Fatalf("quickAck: %v", err)
	}
	var got int
	var gerr error
	rc.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK) })
	if gerr != nil || got != 1 {
		t.Errorf("TCP_QUICKACK = %d (%v), want 1", got, gerr)
	}
}

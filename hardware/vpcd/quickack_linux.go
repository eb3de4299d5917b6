package vpcd

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// quickAck turns delayed ACKs off until the next read. Linux clears
// TCP_QUICKACK on its own, so it is set again before every read.
func quickAck(rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

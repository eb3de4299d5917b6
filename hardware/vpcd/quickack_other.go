//go:build !linux

package vpcd

import "syscall"

// quickAck does nothing where TCP_QUICKACK does not exist.
func quickAck(syscall.RawConn) error { return nil }

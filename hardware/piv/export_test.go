package piv

// Connections returns how many card connections this process has opened.
func Connections() int64 { return connections.Load() }

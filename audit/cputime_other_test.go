//go:build !unix

package audit

// processCPU is not measured here; the cpu-ns/entry metric reads 0.
func processCPU() int64 { return 0 }

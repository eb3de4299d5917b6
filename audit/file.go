package audit

import (
	"os"

	"breakglass/internal/atomicfile"
)

// WriteFileAtomic writes data to path so that path holds either its old
// content or all of data, never a part (internal/atomicfile.Write: a
// temporary file in the same directory, fsync, rename, fsync of the
// directory). On error the temporary file is removed and path is unchanged.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(path, data, perm)
}

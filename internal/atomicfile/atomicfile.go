// Package atomicfile replaces files so that a reader, or the disk after a
// crash, sees either the old content or all of the new, never a part.
//
// Write creates a temporary file in the target's directory (so the final
// rename never crosses a file system), writes and fsyncs it, renames it over
// the target and fsyncs the directory so the new name is durable. On any
// failure the temporary file is removed: a refused write leaves nothing
// behind and the target untouched. WriteKeepPrevious does the same after
// keeping the target's current content as path+".prev", itself written
// atomically.
//
// This is the only place in breakglass that writes a file by rename; vault
// saves, report export and journal repair all go through it.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// PrevSuffix is appended to a path to name the copy WriteKeepPrevious keeps.
const PrevSuffix = ".prev"

// Write replaces path with data, with permission perm, atomically (see the
// package doc). Errors name path and wrap the cause.
func Write(path string, data []byte, perm os.FileMode) error {
	if err := write(path, data, perm); err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	return nil
}

// WriteKeepPrevious is Write, except that when path already exists its
// current content is first copied, atomically and with the same
// permission, to path+PrevSuffix (replacing an older copy). If keeping the
// copy fails, path is not replaced. A missing path is simply created.
func WriteKeepPrevious(path string, data []byte, perm os.FileMode) error {
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("writing %q: keeping the previous version: %w", path, err)
	default:
		if err := write(path+PrevSuffix, old, perm); err != nil {
			return fmt.Errorf("writing %q: keeping the previous version: %w", path, err)
		}
	}
	return Write(path, data, perm)
}

// SyncDir fsyncs directory dir, so that names just created, renamed or
// removed in it survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %q: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %q: %w", dir, err)
	}
	return nil
}

func write(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}

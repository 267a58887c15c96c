//go:build linux

package nemesis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// SmallDisk is a size-limited tmpfs mounted on a node's data dir, so the
// node can be made to run out of space. Mount it before the node starts
// (it hides whatever the directory held); Start fills it up to Spare free
// bytes with a filler file, Heal deletes the filler, Unmount removes the
// mount (the node must be stopped first). Not safe for concurrent use.
type SmallDisk struct {
	Dir   string // the mount point, e.g. the node's --data-dir
	Size  int64  // bytes, the tmpfs size limit
	Spare int64  // bytes left free by Start (0: none)
	fill  string
	mnt   bool
}

const fillerName = ".nemesis-filler"

func (d *SmallDisk) String() string {
	return fmt.Sprintf("disk full on %s (%d bytes, %d spare)", d.Dir, d.Size, d.Spare)
}

// Mount creates Dir if needed and mounts the tmpfs on it.
func (d *SmallDisk) Mount() error {
	if d.mnt {
		return errors.New("small disk already mounted")
	}
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		return fmt.Errorf("small disk: %w", err)
	}
	opts := fmt.Sprintf("size=%d,mode=0755", d.Size)
	if err := syscall.Mount("tmpfs", d.Dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs %s on %s: %w", opts, d.Dir, err)
	}
	d.mnt = true
	return nil
}

// Unmount removes the mount (lazily if it is still busy); its contents are
// lost. A no-op when not mounted.
func (d *SmallDisk) Unmount() error {
	if !d.mnt {
		return nil
	}
	err := syscall.Unmount(d.Dir, 0)
	if errors.Is(err, syscall.EBUSY) {
		err = syscall.Unmount(d.Dir, syscall.MNT_DETACH)
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", d.Dir, err)
	}
	d.mnt, d.fill = false, ""
	return nil
}

// Start writes a filler file until at most Spare bytes are free.
func (d *SmallDisk) Start(ctx context.Context) error {
	if !d.mnt {
		return errors.New("small disk: Start before Mount")
	}
	d.fill = filepath.Join(d.Dir, fillerName)
	f, err := os.OpenFile(d.fill, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("small disk: %w", err)
	}
	err = fillUntil(ctx, f, d.Dir, d.Spare)
	return errors.Join(err, f.Close())
}

// fillUntil appends to f until the filesystem of dir has at most spare free
// bytes or reports ENOSPC. The loop is bounded by the filesystem's size.
func fillUntil(ctx context.Context, f *os.File, dir string, spare int64) error {
	buf := make([]byte, 64<<10)
	for ctx.Err() == nil {
		free, err := freeBytes(dir)
		if err != nil || free <= spare {
			return err
		}
		n := min(int64(len(buf)), free-spare)
		if _, err := f.Write(buf[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return fmt.Errorf("small disk fill: %w", err)
		}
	}
	return ctx.Err()
}

// freeBytes is the space an unprivileged writer could still use in dir.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// Heal deletes the filler file; a no-op when not started.
func (d *SmallDisk) Heal(context.Context) error {
	if d.fill == "" {
		return nil
	}
	if err := os.Remove(d.fill); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("small disk heal: %w", err)
	}
	d.fill = ""
	return nil
}

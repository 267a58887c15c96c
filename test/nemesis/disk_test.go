//go:build linux

package nemesis

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

const testDiskSize = 1 << 20

func mountSmall(t *testing.T, spare int64) *SmallDisk {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("SKIP %s: mounting tmpfs needs root (uid %d)", t.Name(), os.Geteuid())
	}
	d := &SmallDisk{Dir: filepath.Join(t.TempDir(), "data"), Size: testDiskSize, Spare: spare}
	if err := d.Mount(); err != nil {
		t.Skipf("SKIP %s: %v", t.Name(), err)
	}
	t.Cleanup(func() {
		if err := d.Unmount(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// TestSmallDiskRunsOutOfSpace writes until ENOSPC: the mount really is
// limited to its size.
func TestSmallDiskRunsOutOfSpace(t *testing.T) {
	d := mountSmall(t, 0)
	f, err := os.Create(filepath.Join(d.Dir, "blob"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	written, err := writeUntilError(f, 4*testDiskSize)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("after %d bytes: %v, want ENOSPC", written, err)
	}
	if written > testDiskSize {
		t.Fatalf("wrote %d bytes on a %d-byte filesystem", written, testDiskSize)
	}
}

func TestSmallDiskFullAndHeal(t *testing.T) {
	ctx := ctxT(t)
	d := mountSmall(t, 0)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(d.Dir, "wal")
	if err := os.WriteFile(path, make([]byte, 8<<10), 0o644); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full disk: %v, want ENOSPC", err)
	}
	if err := d.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, 8<<10), 0o644); err != nil {
		t.Fatalf("write after Heal: %v", err)
	}
}

func TestSmallDiskLeavesSpare(t *testing.T) {
	ctx := ctxT(t)
	const spare = 64 << 10
	d := mountSmall(t, spare)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	free, err := freeBytes(d.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if free > spare {
		t.Fatalf("%d bytes free after Start, want at most %d", free, spare)
	}
	if err := os.WriteFile(filepath.Join(d.Dir, "small"), make([]byte, 4<<10), 0o644); err != nil {
		t.Fatalf("write within the spare space: %v", err)
	}
}

// writeUntilError appends 64 KiB blocks until a write fails or limit bytes.
func writeUntilError(f *os.File, limit int) (int, error) {
	buf := make([]byte, 64<<10)
	total := 0
	for total < limit {
		n, err := f.Write(buf)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, errors.New("no error before the limit")
}

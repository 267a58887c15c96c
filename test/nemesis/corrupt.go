//go:build linux

package nemesis

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Layout of a node's data dir (cluster/DESIGN.md): raft-wal segments
// DataDir/raft/wal/<baseIndex:020d>-<id:016x>.wal, and raft's file snapshot
// store DataDir/raft/snapshots/<term>-<index>-<unixms>/{meta.json,state.bin}.

// NewestSegment returns the raft-wal segment with the highest base index
// (the one being written) in a node's data dir.
func NewestSegment(dataDir string) (string, error) {
	segs, err := filepath.Glob(filepath.Join(dataDir, "raft", "wal", "*.wal"))
	if err != nil || len(segs) == 0 {
		return "", fmt.Errorf("no raft-wal segment under %s: %w", dataDir, errors.Join(err, os.ErrNotExist))
	}
	slices.Sort(segs) // zero-padded base index first: lexical order is index order
	return segs[len(segs)-1], nil
}

// NewestSnapshot returns the state.bin of the newest snapshot (highest term,
// then index, then creation time) in a node's data dir.
func NewestSnapshot(dataDir string) (string, error) {
	dir := filepath.Join(dataDir, "raft", "snapshots")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("snapshots of %s: %w", dataDir, err)
	}
	var best []uint64
	var name string
	for _, e := range ents {
		key, ok := snapshotKey(e.Name())
		if ok && e.IsDir() && slices.Compare(key, best) > 0 {
			best, name = key, e.Name()
		}
	}
	if name == "" {
		return "", fmt.Errorf("no snapshot under %s: %w", dir, os.ErrNotExist)
	}
	return filepath.Join(dir, name, "state.bin"), nil
}

// snapshotKey parses "<term>-<index>-<ms>" (temporary ".tmp" dirs are not snapshots).
func snapshotKey(name string) ([]uint64, bool) {
	parts := strings.Split(name, "-")
	if len(parts) != 3 {
		return nil, false
	}
	key := make([]uint64, 3)
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return nil, false
		}
		key[i] = v
	}
	return key, true
}

// StoreSegments returns the message store's segment files under a node's
// data dir (queue/diskstore: DataDir/raft/store/gen-N/<queue>~<created>/
// <id:016x>.seg), oldest first within each queue; none when the node keeps
// its messages in memory.
func StoreSegments(dataDir string) ([]string, error) {
	segs, err := filepath.Glob(filepath.Join(dataDir, "raft", "store", "gen-*", "*", "*.seg"))
	if err != nil {
		return nil, fmt.Errorf("store segments: %w", err)
	}
	sort.Strings(segs)
	return segs, nil
}

// DataEnd returns the offset just past the last non-zero byte of path.
// raft-wal preallocates segments with zeros, so this is where written data
// ends; for a snapshot it is (at most) the file size.
func DataEnd(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("data end: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("data end: %w", err)
	}
	return lastNonZero(f, st.Size())
}

func lastNonZero(r io.ReaderAt, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		chunk := buf[:end-start]
		if _, err := r.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("data end: %w", err)
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != 0 {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// TruncateTail cuts the last n bytes of written data off path (a torn
// write): the file ends at DataEnd-n. It returns the new size.
func TruncateTail(path string, n int64) (int64, error) {
	end, err := DataEnd(path)
	if err != nil {
		return 0, err
	}
	size := max(0, end-n)
	if err := os.Truncate(path, size); err != nil {
		return 0, fmt.Errorf("truncate tail: %w", err)
	}
	return size, nil
}

// FlipTail inverts every bit of the last n bytes of written data of path
// (bit rot in the newest records) and returns the offset of the first
// flipped byte. The file keeps its size.
func FlipTail(path string, n int64) (int64, error) {
	end, err := DataEnd(path)
	if err != nil {
		return 0, err
	}
	off := max(0, end-n)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("flip tail: %w", err)
	}
	buf := make([]byte, end-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return 0, errors.Join(fmt.Errorf("flip tail: %w", err), f.Close())
	}
	for i := range buf {
		buf[i] ^= 0xFF
	}
	if _, err := f.WriteAt(buf, off); err != nil {
		return 0, errors.Join(fmt.Errorf("flip tail: %w", err), f.Close())
	}
	return off, errors.Join(f.Sync(), f.Close())
}

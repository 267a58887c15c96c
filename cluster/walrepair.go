package cluster

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// raft-wal v0.4.1 segment format, as far as the repair below reads it
// (segment/format.go of the library): a 32-byte file header, then frames of
// an 8-byte header (type, 3 reserved bytes, length or CRC) and a payload
// padded to 8 bytes. Every append is one write of its entry frames, an index
// frame when the append seals the segment, and a commit frame whose CRC
// (Castagnoli) covers every byte since the previous commit frame (since the
// start of the file for the first one).
const (
	walFileHeaderLen  = 32
	walFrameHeaderLen = 8
	walFrameEntry     = 1
	walFrameIndex     = 2
	walFrameCommit    = 3
)

var walCRCTable = crc32.MakeTable(crc32.Castagnoli)

// tailState is what cutTails found after the last valid commit of a
// segment file.
type tailState int

const (
	tailClean   tailState = iota // zeros or the end of the file: nothing was cut
	tailTorn                     // whole frames, then zeros: a write a crash interrupted
	tailDamaged                  // anything else: damage on disk, or a cut-off file
)

// cutTails runs before raft-wal opens dir. In the two newest segment files
// it looks for bytes after the last commit frame whose CRC verifies, keeps
// them beside the segment (<segment>.torn-<offset>) and cuts the file at that
// commit, so that nothing is deleted and raft-wal reopens a clean tail.
// raft-wal's own recovery would ignore those bytes and write over them —
// and when they were the write that seals the segment, it would keep the
// "sealed" mark and refuse every append ("segment is sealed"), so the node
// could never take an entry again.
//
// It also tells torn from damaged. A write a crash or power loss
// interrupted leaves whole frames of the batch and then the zeros raft-wal
// preallocated: never acknowledged, safe to drop, as raft-wal assumes. Bytes
// that do not read that way (a frame of unknown type, a commit frame whose
// CRC fails, the file ending inside a frame) mean data that may have been
// acknowledged was damaged or cut on disk: damaged is true, and the caller
// must not let the node vote or campaign until it has caught up with a
// leader (voteguard.go). Only the two newest files are read: a torn write can
// only be in the file that was the tail then, and at most an empty file (a
// segment whose creation failed) can be newer.
func cutTails(dir string) (cut []string, damaged bool, err error) {
	files, err := newestSegments(dir, 2)
	if err != nil {
		return nil, false, err
	}
	for _, path := range files {
		st, err := cutTail(path)
		if err != nil {
			return cut, damaged, fmt.Errorf("check the tail of %s: %w", filepath.Base(path), err)
		}
		if st != tailClean {
			cut = append(cut, path)
		}
		damaged = damaged || st == tailDamaged
	}
	return cut, damaged, nil
}

// newestSegments returns the paths of the n segment files with the highest
// segment ids (raft-wal names them <base index>-<id in hex>.wal).
func newestSegments(dir string, n int) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list log dir: %w", err)
	}
	type seg struct {
		id   uint64
		path string
	}
	var segs []seg
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".wal")
		_, hexID, dash := strings.Cut(name, "-")
		if !ok || !dash {
			continue
		}
		id, err := strconv.ParseUint(hexID, 16, 64)
		if err != nil {
			continue
		}
		segs = append(segs, seg{id, filepath.Join(dir, e.Name())})
	}
	slices.SortFunc(segs, func(a, b seg) int { return cmp.Compare(b.id, a.id) }) // newest first
	var paths []string
	for _, s := range segs[:min(n, len(segs))] {
		paths = append(paths, s.path)
	}
	return paths, nil
}

// cutTail cuts path after its last valid commit unless only zeros or the
// end of the file follow it, and says what it found there.
func cutTail(path string) (tailState, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return tailClean, err
	}
	defer f.Close()
	end, err := scanSegment(f)
	if err != nil {
		return tailClean, err
	}
	st, err := classifyTail(f, end)
	if err != nil || st == tailClean {
		return st, err
	}
	if err := keepCut(f, path, end); err != nil {
		return st, err
	}
	if err := f.Truncate(end); err != nil {
		return st, fmt.Errorf("cut after the last commit at offset %d: %w", end, err)
	}
	if err := f.Sync(); err != nil {
		return st, fmt.Errorf("sync after the cut: %w", err)
	}
	return st, nil
}

// classifyTail reads the frames after the last valid commit at off.
func classifyTail(f *os.File, off int64) (tailState, error) {
	fi, err := f.Stat()
	if err != nil {
		return tailClean, err
	}
	size := fi.Size()
	for first := true; ; first = false {
		var hdr [walFrameHeaderLen]byte
		if off+walFrameHeaderLen > size {
			if first && off == size {
				return tailClean, nil // a sealed segment ends with its commit
			}
			return tailDamaged, nil // the file ends inside or right after uncommitted frames
		}
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			return tailClean, fmt.Errorf("read after the last commit: %w", err)
		}
		switch {
		case hdr == [walFrameHeaderLen]byte{} && first:
			return tailClean, nil
		case hdr == [walFrameHeaderLen]byte{}:
			return tailTorn, nil
		case hdr[0] != walFrameEntry && hdr[0] != walFrameIndex:
			return tailDamaged, nil // a commit after the last valid one, or garbage
		}
		n := binary.LittleEndian.Uint32(hdr[4:8])
		off += walFrameHeaderLen + int64(n) + int64(padTo8(n))
	}
}

// keepCut copies the bytes of path from offset end on to
// <path>.torn-<end> (raft-wal ignores files not ending in .wal): nothing is
// deleted, the cut write stays there to inspect.
func keepCut(f *os.File, path string, end int64) error {
	keep := fmt.Sprintf("%s.torn-%d", path, end)
	out, err := os.OpenFile(keep, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("keep the cut bytes: %w", err)
	}
	dataEnd, err := lastNonZero(f, end)
	if err == nil {
		_, err = io.Copy(out, io.NewSectionReader(f, end, dataEnd-end))
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("keep the cut bytes in %s: %w", keep, err)
	}
	return nil
}

// lastNonZero returns the offset just after the last non-zero byte of f at
// or after from (from when there is none): the preallocated zeros after the
// damaged bytes need not be kept.
func lastNonZero(f *os.File, from int64) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 64<<10)
	for end := st.Size(); end > from; {
		start := max(from, end-int64(len(buf)))
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != 0 {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return from, nil
}

// scanSegment walks the frames of a segment file the way raft-wal's
// recovery does (until zeros, the end of the file or an unknown frame) and
// returns the end of the last valid commit frame (0 when there is none).
// Like raft-wal, it verifies the CRC of the final commit only and falls back
// to the one before it when that fails.
func scanSegment(f io.ReaderAt) (committedEnd int64, err error) {
	var commits []int64 // offsets of commit frames, the last two kept
	off := int64(walFileHeaderLen)
	var hdr [walFrameHeaderLen]byte
walk:
	for {
		n, err := f.ReadAt(hdr[:], off)
		if n < walFrameHeaderLen {
			if err == io.EOF {
				break
			}
			return 0, fmt.Errorf("read frame header at %d: %w", off, err)
		}
		typ, size := hdr[0], binary.LittleEndian.Uint32(hdr[4:8])
		switch typ {
		case walFrameEntry, walFrameIndex:
		case walFrameCommit:
			commits = append(commits[max(0, len(commits)-1):], off)
			size = 0 // the field holds the CRC
		default: // zeros or a torn header: the end, for raft-wal too
			break walk
		}
		off += walFrameHeaderLen + int64(size) + int64(padTo8(size))
	}
	return finalCommitEnd(f, commits)
}

// finalCommitEnd returns where the last valid commit frame ends: the last
// one if its CRC matches the bytes since the one before, else the one
// before (raft-wal's rule: earlier commits were verified when written).
func finalCommitEnd(f io.ReaderAt, commits []int64) (int64, error) {
	if len(commits) == 0 {
		return 0, nil
	}
	last := commits[len(commits)-1]
	start := int64(0)
	if len(commits) == 2 {
		start = commits[0] + walFrameHeaderLen
	}
	buf := make([]byte, last+walFrameHeaderLen-start)
	if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read last commit batch: %w", err)
	}
	want := binary.LittleEndian.Uint32(buf[len(buf)-4:])
	if crc32.Checksum(buf[:len(buf)-walFrameHeaderLen], walCRCTable) == want {
		return last + walFrameHeaderLen, nil
	}
	return start, nil
}

func padTo8(n uint32) uint32 { return (walFrameHeaderLen - n%walFrameHeaderLen) % walFrameHeaderLen }

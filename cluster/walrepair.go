package cluster

import (
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

// repairTornSeals fixes, before raft-wal opens dir, the newest segment files
// whose last append tore while it sealed the segment: an index frame was
// written, the commit frame after it was not (disk full in the middle of the
// write, then a fail-stop). raft-wal's recovery drops the uncommitted
// entries but keeps the index frame's "sealed" mark, so the reopened tail
// refuses every append ("segment is sealed") and the node could never take
// an entry again. The repair cuts the file at the end of its last valid
// commit frame: only bytes raft-wal itself treats as never written go, and
// they are kept beside it (keepCut).
// Only the two newest files are read: a torn write can only be in the file
// that was the tail then, and at most an empty file (a segment whose
// creation failed) can be newer. It returns the files it cut.
func repairTornSeals(dir string) ([]string, error) {
	files, err := newestSegments(dir, 2)
	if err != nil {
		return nil, err
	}
	var cut []string
	for _, path := range files {
		did, err := repairTornSeal(path)
		if err != nil {
			return cut, fmt.Errorf("check %s for a torn seal: %w", filepath.Base(path), err)
		}
		if did {
			cut = append(cut, path)
		}
	}
	return cut, nil
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
	slices.SortFunc(segs, func(a, b seg) int { return -cmpUint(a.id, b.id) })
	var paths []string
	for _, s := range segs[:min(n, len(segs))] {
		paths = append(paths, s.path)
	}
	return paths, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// repairTornSeal cuts path after its last valid commit when an index frame
// follows that commit. It reports whether it cut.
func repairTornSeal(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	end, lastIndex, err := scanSegment(f)
	if err != nil || lastIndex < end { // no index frame after the last commit
		return false, err
	}
	if err := keepCut(f, path, end); err != nil {
		return false, err
	}
	if err := f.Truncate(end); err != nil {
		return false, fmt.Errorf("cut after the last commit at offset %d: %w", end, err)
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("sync after the cut: %w", err)
	}
	return true, nil
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
	_, err = io.Copy(out, io.NewSectionReader(f, end, 1<<62))
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

// scanSegment walks the frames of a segment file the way raft-wal's
// recovery does (until zeros, the end of the file or an unknown frame) and
// returns the end of the last valid commit frame (0 when there is none) and
// the offset of the last index frame (-1 when there is none). Like
// raft-wal, it verifies the CRC of the final commit only and falls back to
// the one before it when that fails.
func scanSegment(f io.ReaderAt) (committedEnd, lastIndex int64, err error) {
	lastIndex = -1
	var commits []int64 // offsets of commit frames, the last two kept
	off := int64(walFileHeaderLen)
	var hdr [walFrameHeaderLen]byte
	for walking := true; walking; {
		n, err := f.ReadAt(hdr[:], off)
		if n < walFrameHeaderLen {
			if err == io.EOF {
				break
			}
			return 0, 0, fmt.Errorf("read frame header at %d: %w", off, err)
		}
		typ, size := hdr[0], binary.LittleEndian.Uint32(hdr[4:8])
		switch typ {
		case walFrameEntry:
		case walFrameIndex:
			lastIndex = off
		case walFrameCommit:
			commits = append(commits[max(0, len(commits)-1):], off)
			size = 0 // the field holds the CRC
		default: // zeros or a torn header: the end, for raft-wal too
			walking = false
		}
		off += walFrameHeaderLen + int64(size) + int64(padTo8(size))
	}
	end, err := finalCommitEnd(f, commits)
	return end, lastIndex, err
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

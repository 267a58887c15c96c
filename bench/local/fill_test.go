package local

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestFillSmoke runs the fill benchmark with a few thousand messages
// against a freshly built carrier, so the command keeps working; it checks
// the shape of the result (every message published and read back, the
// store on disk, a restart to ready), never its speed.
func TestFillSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds carrier and runs a node")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	const n = 3000
	res, err := Fill(ctx, FillConfig{Bin: carrierBin, Dir: t.TempDir(), Messages: n, Size: 512, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	if res.Messages != n || res.PublishPerSec <= 0 || res.ReadPerSec <= 0 || res.RestartSec <= 0 {
		t.Fatalf("result %+v: want every message published and read, and a restart", res)
	}
	if res.StoreBytes < n*512 {
		t.Fatalf("store holds %d bytes on disk for %d messages of 512 bytes", res.StoreBytes, n)
	}
	if res.RSSEmpty <= 0 || res.RSSFilled <= 0 || res.RSSAfterRestart <= 0 {
		t.Fatalf("memory readings %+v", res)
	}
}

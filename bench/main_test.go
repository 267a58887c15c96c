package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	clustertest "github.com/carriermq/carrier/test/cluster"
)

// carrierBin is the carrier binary the smoke tests run, built once by
// TestMain (empty under -short, where the smoke tests skip).
var carrierBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "carrier-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if carrierBin, err = clustertest.Build(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, "bench tests:", err)
		return 1
	}
	return m.Run()
}

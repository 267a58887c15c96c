package local

import (
	"context"
	"flag"
	"os"
	"testing"

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
	return clustertest.RunWithBuild(m, "bench tests", func(ctx context.Context, dir string) (err error) {
		carrierBin, err = clustertest.Build(ctx, dir)
		return err
	})
}

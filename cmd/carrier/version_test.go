package main

import (
	"context"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	for _, flag := range []string{"--version", "-v"} {
		out, _, err := runCLI(context.Background(), nil, "", flag)
		want := "carrier " + version + " (revision "
		if err != nil || !strings.HasPrefix(out, want) || strings.Count(out, "\n") != 1 {
			t.Errorf("carrier %s = %q, %v; want one line starting %q", flag, out, err, want)
		}
	}
	old := revision
	revision = "0123abcd"
	defer func() { revision = old }()
	if got := buildRevision(); got != "0123abcd" {
		t.Errorf("buildRevision with a stamped revision = %q, want it", got)
	}
}

package sioroute

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestSIDCarriesNode(t *testing.T) {
	for _, node := range []string{"n1", "carrier-0", "orders.prod-2", "a/b?c=d&e", "ünï", strings.Repeat("x", MaxNodeBytes)} {
		sid, err := NewSID(node)
		if err != nil {
			t.Fatalf("NewSID(%q): %v", node, err)
		}
		if got, ok := NodeOf(sid); !ok || got != node {
			t.Errorf("NodeOf(NewSID(%q)) = %q, %v", node, got, ok)
		}
		if esc := url.QueryEscape(sid); esc != sid {
			t.Errorf("sid %q needs escaping in a query (%q)", sid, esc)
		}
	}
}

func TestSIDUnguessable(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		sid, err := NewSID("n1")
		if err != nil {
			t.Fatal(err)
		}
		if seen[sid] {
			t.Fatalf("sid %q made twice", sid)
		}
		seen[sid] = true
		if r := sid[strings.LastIndex(sid, sep)+1:]; len(r) != randomLen {
			t.Fatalf("random part %q: %d characters, want %d", r, len(r), randomLen)
		}
	}
}

func TestNewSIDRefusesNode(t *testing.T) {
	for _, node := range []string{"", strings.Repeat("x", MaxNodeBytes+1)} {
		if sid, err := NewSID(node); !errors.Is(err, ErrNodeID) {
			t.Errorf("NewSID(%d bytes) = %q, %v; want ErrNodeID", len(node), sid, err)
		}
	}
}

func TestNodeOfRefuses(t *testing.T) {
	good, err := NewSID("n1")
	if err != nil {
		t.Fatal(err)
	}
	random := good[strings.LastIndex(good, sep)+1:]
	for name, sid := range map[string]string{
		"empty":              "",
		"reference server's": "Ynf5bKmnsrAFDUKKAAAB",
		"no node":            sep + random,
		"only a separator":   sep,
		"short random":       "bjE" + sep + random[1:],
		"long random":        "bjE" + sep + random + "A",
		"random not base64":  "bjE" + sep + random[1:] + "~",
		"node not base64":    "b*E" + sep + random,
		"node padded":        "bjE=" + sep + random,
		"too long":           strings.Repeat("A", maxSIDLen) + sep + random,
		"two separators":     "bjE" + sep + "bjE" + sep + random,
	} {
		if node, ok := NodeOf(sid); ok {
			t.Errorf("%s: NodeOf(%q) = %q, true; want false", name, sid, node)
		}
	}
}

func FuzzNodeOf(f *testing.F) {
	good, err := NewSID("carrier-0")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "", sep, "Ynf5bKmnsrAFDUKKAAAB", "bjE" + sep + strings.Repeat("A", randomLen)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sid string) {
		node, ok := NodeOf(sid)
		if !ok {
			return
		}
		if node == "" || len(node) > MaxNodeBytes {
			t.Fatalf("NodeOf(%q) = %d bytes, outside 1..%d", sid, len(node), MaxNodeBytes)
		}
	})
}

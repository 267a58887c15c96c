package nodejs

import "testing"

func TestAtLeast20(t *testing.T) {
	for v, want := range map[string]bool{"v20.20.2": true, "v22.1.0": true, "v18.19.0": false, "v9.0.0": false, "20.1.0": false, "": false} {
		if got := atLeast20(v); got != want {
			t.Errorf("atLeast20(%q) = %v, want %v", v, got, want)
		}
	}
}

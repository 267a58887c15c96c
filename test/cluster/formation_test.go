package clustertest

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestFormation starts three empty nodes at the same moment with
// --bootstrap-expect 3 and explicit --join lists, -formation-runs times:
// each time exactly one cluster forms, with all three as voters, one leader
// and no term with two leaders.
func TestFormation(t *testing.T) {
	for run := range *formationRuns {
		t.Run(fmt.Sprintf("run%d", run+1), func(t *testing.T) {
			c := startCluster(t, 3)
			w := watchLeaders(t, c)
			checkVoters(t, c, c.Nodes())
			if n, err := w.Stop(); err != nil {
				t.Errorf("leader watch (%d samples): %v", n, err)
			}
		})
	}
}

// checkVoters polls until every running node reports the same Raft
// configuration with exactly want as voters.
func checkVoters(t *testing.T, c *Cluster, want []*Node) {
	t.Helper()
	var ids []string
	for _, n := range want {
		ids = append(ids, n.ID)
	}
	slices.Sort(ids)
	ctx := timeout(t, 60*time.Second)
	err := Poll(ctx, 100*time.Millisecond, func() error {
		for _, n := range c.Running() {
			st, err := n.Status(ctx)
			if err != nil {
				return err
			}
			var voters []string
			for _, m := range st.Members {
				if m.Suffrage == "Voter" {
					voters = append(voters, m.ID)
				}
			}
			slices.Sort(voters)
			if !slices.Equal(voters, ids) {
				return fmt.Errorf("node %s sees voters %v, want %v", n.ID, voters, ids)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

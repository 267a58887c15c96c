package gateway

import (
	"time"

	"github.com/carriermq/carrier/cluster"
	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/gateway/carrierv1"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// Conversions between the state machine's types and their JSON shapes in
// protocol (string durations and RFC 3339 times).

func formatDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// queueConfigFromWire converts and checks a config body; errors are bad_config.
func queueConfigFromWire(pc protocol.QueueConfig) (queue.QueueConfig, *apierr.Error) {
	c := queue.QueueConfig{Retention: queue.Retention(pc.Retention), MaxMessages: pc.MaxMessages,
		MaxBytes: pc.MaxBytes, MaxMessageSize: pc.MaxMessageSize, Discard: queue.Discard(pc.Discard),
		MaxDeadLetters: pc.MaxDeadLetters}
	var err *apierr.Error
	if c.MaxAge, err = configDuration("maxAge", pc.MaxAge); err != nil {
		return c, err
	}
	if c.DedupWindow, err = configDuration("dedupWindow", pc.DedupWindow); err != nil {
		return c, err
	}
	if c.Group, err = groupConfigFromWire(pc.Group); err != nil {
		return c, err
	}
	switch {
	case c.Retention != "" && c.Retention != queue.RetentionLimits && c.Retention != queue.RetentionWorkqueue:
		return c, apierr.Errorf(protocol.CodeBadConfig, `retention must be "limits" or "workqueue"`)
	case c.Discard != "" && c.Discard != queue.DiscardOld && c.Discard != queue.DiscardNew:
		return c, apierr.Errorf(protocol.CodeBadConfig, `discard must be "old" or "new"`)
	case c.MaxMessages < 0 || c.MaxBytes < 0 || c.MaxMessageSize < 0 || c.MaxDeadLetters < 0:
		return c, apierr.Errorf(protocol.CodeBadConfig, "limits must not be negative")
	}
	return c, nil
}

func groupConfigFromWire(pg protocol.GroupConfig) (queue.GroupConfig, *apierr.Error) {
	g := queue.GroupConfig{MaxDeliver: pg.MaxDeliver, MaxInFlight: pg.MaxInFlight}
	var err *apierr.Error
	if g.AckWait, err = configDuration("group.ackWait", pg.AckWait); err != nil {
		return g, err
	}
	if g.MaxDeliver < 0 || g.MaxInFlight < 0 {
		return g, apierr.Errorf(protocol.CodeBadConfig, "maxDeliver and maxInFlight must not be negative")
	}
	if pg.Start != nil {
		f := protocol.Frame{From: pg.Start.Kind, FromSeq: pg.Start.Seq, FromTime: pg.Start.Time}
		pos, perr := carrierv1.Position(&f)
		if perr != nil {
			return g, apierr.Errorf(protocol.CodeBadConfig, "group.start: %s", perr.Message)
		}
		g.Start = pos
	}
	return g, nil
}

func configDuration(field, s string) (time.Duration, *apierr.Error) {
	d, err := carrierv1.ParseDuration(field, s)
	if err != nil {
		return 0, apierr.Errorf(protocol.CodeBadConfig, "%s", err.Message)
	}
	return d, nil
}

func queueConfigToWire(c queue.QueueConfig) protocol.QueueConfig {
	return protocol.QueueConfig{Retention: string(c.Retention), MaxMessages: c.MaxMessages,
		MaxBytes: c.MaxBytes, MaxAge: formatDuration(c.MaxAge), MaxMessageSize: c.MaxMessageSize,
		Discard: string(c.Discard), DedupWindow: formatDuration(c.DedupWindow),
		MaxDeadLetters: c.MaxDeadLetters, Group: groupConfigToWire(c.Group)}
}

func groupConfigToWire(c queue.GroupConfig) protocol.GroupConfig {
	g := protocol.GroupConfig{AckWait: formatDuration(c.AckWait), MaxDeliver: c.MaxDeliver,
		MaxInFlight: c.MaxInFlight}
	if c.Start.Kind != "" {
		g.Start = &protocol.Position{Kind: string(c.Start.Kind), Seq: c.Start.Seq, Time: carrierv1.FormatTime(c.Start.Time)}
	}
	return g
}

// mergeConfig overlays the fields set in patch on base (PATCH semantics).
func mergeConfig(base, patch protocol.QueueConfig) protocol.QueueConfig {
	over(&base.Retention, patch.Retention)
	over(&base.MaxMessages, patch.MaxMessages)
	over(&base.MaxBytes, patch.MaxBytes)
	over(&base.MaxAge, patch.MaxAge)
	over(&base.MaxMessageSize, patch.MaxMessageSize)
	over(&base.Discard, patch.Discard)
	over(&base.DedupWindow, patch.DedupWindow)
	over(&base.MaxDeadLetters, patch.MaxDeadLetters)
	base.Group = mergeGroupConfig(base.Group, patch.Group)
	return base
}

// mergeGroupConfig overlays the fields set in patch on base.
func mergeGroupConfig(base, patch protocol.GroupConfig) protocol.GroupConfig {
	over(&base.AckWait, patch.AckWait)
	over(&base.MaxDeliver, patch.MaxDeliver)
	over(&base.MaxInFlight, patch.MaxInFlight)
	if patch.Start != nil {
		base.Start = patch.Start
	}
	return base
}

func over[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

func queueInfoToWire(q queue.QueueInfo) protocol.QueueInfo {
	groups := make([]protocol.GroupInfo, len(q.Groups))
	for i, g := range q.Groups {
		groups[i] = groupInfoToWire(g)
	}
	return protocol.QueueInfo{Name: q.Name, Config: queueConfigToWire(q.Config), FirstSeq: q.FirstSeq,
		LastSeq: q.LastSeq, Messages: q.Messages, Bytes: q.Bytes, DeadLetters: q.DeadLetters,
		Dropped: q.Dropped, Groups: groups, Created: carrierv1.FormatTime(q.Created), ETag: q.ETag}
}

func groupInfoToWire(g queue.GroupInfo) protocol.GroupInfo {
	return protocol.GroupInfo{Name: g.Name, Config: groupConfigToWire(g.Config), Members: g.Members,
		Pending: g.Pending, Unacked: g.Unacked, Scheduled: g.Scheduled, AckFloor: g.AckFloor,
		Redelivered: g.Redelivered, ETag: g.ETag}
}

// messageToWire renders a stored message; Data is shared, not copied.
func messageToWire(m *queue.Message) protocol.Message {
	pm := protocol.Message{Seq: m.Seq, MsgID: m.ID, Event: m.Event, Headers: m.Headers,
		Time: carrierv1.FormatTime(m.Time), DeliverAt: carrierv1.FormatTime(m.DeliverAt)}
	if m.Binary {
		pm.Binary = m.Data
	} else if len(m.Data) > 0 {
		pm.Data = m.Data
	}
	return pm
}

func deadLetterToWire(d queue.DeadLetter) protocol.DeadLetter {
	recs := make([]protocol.DeliveryRecord, len(d.Deliveries))
	for i, r := range d.Deliveries {
		recs[i] = protocol.DeliveryRecord{Attempt: r.Attempt, Member: r.Member, Time: carrierv1.FormatTime(r.Time),
			Outcome: r.Outcome}
	}
	dl := protocol.DeadLetter{DLSeq: d.DLSeq, Group: d.Group, Deliveries: recs, Time: carrierv1.FormatTime(d.Time)}
	if d.Message != nil {
		dl.Message = messageToWire(d.Message)
	}
	return dl
}

func statusToWire(s cluster.Status) protocol.ClusterStatus {
	members := make([]protocol.ClusterMember, len(s.Members))
	for i, m := range s.Members {
		members[i] = protocol.ClusterMember{ID: m.ID, Address: m.Address, Suffrage: m.Suffrage, Leader: m.Leader,
			Gossip: m.Gossip, GossipAddr: m.GossipAddr, APIAddress: m.APIAddress, Applied: m.Applied, Version: m.Version}
	}
	return protocol.ClusterStatus{NodeID: s.NodeID, State: s.State, Leader: s.Leader, Term: s.Term,
		CommitIndex: s.CommitIndex, AppliedIndex: s.AppliedIndex, LastLogIndex: s.LastLogIndex, Members: members}
}

func stopCheckToWire(c cluster.StopCheck) protocol.StopCheck {
	return protocol.StopCheck{Member: c.Member, Safe: c.Safe, Reason: c.Reason, Leader: c.Leader, Voter: c.Voter,
		Voters: c.Voters, Quorum: c.Quorum, CaughtUp: c.CaughtUp, Lagging: c.Lagging}
}

package queue

import "time"

// Fixed upper bounds. They are constants, not settings, so that every
// replica enforces exactly the same limits.
const (
	MaxGroupsPerQueue  = 1000              // consumer groups on one queue
	MaxMembersPerGroup = 10000             // live members in one group
	MaxInFlightLimit   = 10000             // largest GroupConfig.MaxInFlight
	MaxDeliverLimit    = 1000              // largest GroupConfig.MaxDeliver
	MaxDeadLetterLimit = 1000000           // largest QueueConfig.MaxDeadLetters
	MaxMessageSizeMax  = 64 << 20          // largest QueueConfig.MaxMessageSize
	MaxDurationLimit   = 87600 * time.Hour // largest duration setting or nack delay (10 years)
	// MaxDedupIDs bounds the de-duplication index of one queue: when more ids
	// are remembered, the oldest are forgotten before their window ends.
	MaxDedupIDs = 1000000
	// maxHistory bounds the delivery history kept per message and group;
	// the oldest records are dropped first.
	maxHistory = MaxDeliverLimit
)

// DefaultQueueConfig is what a queue gets for every zero field when created.
func DefaultQueueConfig() QueueConfig {
	return QueueConfig{
		Retention:      RetentionLimits,
		MaxMessages:    1000000,
		MaxBytes:       64 << 20,
		MaxAge:         0,
		MaxMessageSize: 1 << 20,
		Discard:        DiscardOld,
		DedupWindow:    2 * time.Minute,
		MaxDeadLetters: 10000,
		Group:          DefaultGroupConfig(),
	}
}

// DefaultGroupConfig is the group part of DefaultQueueConfig.
func DefaultGroupConfig() GroupConfig {
	return GroupConfig{
		AckWait:     30 * time.Second,
		MaxDeliver:  5,
		MaxInFlight: 100,
		Start:       Position{Kind: FromFirst},
	}
}

// WithDefaults fills every zero field of c from d, the nested Group included.
func (c QueueConfig) WithDefaults(d QueueConfig) QueueConfig {
	c.Retention = orDefault(c.Retention, d.Retention)
	c.MaxMessages = orDefault(c.MaxMessages, d.MaxMessages)
	c.MaxBytes = orDefault(c.MaxBytes, d.MaxBytes)
	c.MaxAge = orDefault(c.MaxAge, d.MaxAge)
	c.MaxMessageSize = orDefault(c.MaxMessageSize, d.MaxMessageSize)
	c.Discard = orDefault(c.Discard, d.Discard)
	c.DedupWindow = orDefault(c.DedupWindow, d.DedupWindow)
	c.MaxDeadLetters = orDefault(c.MaxDeadLetters, d.MaxDeadLetters)
	c.Group = c.Group.WithDefaults(d.Group)
	return c
}

// WithDefaults fills every zero field of c from d. A Start with an empty
// Kind is replaced as a whole.
func (c GroupConfig) WithDefaults(d GroupConfig) GroupConfig {
	c.AckWait = orDefault(c.AckWait, d.AckWait)
	c.MaxDeliver = orDefault(c.MaxDeliver, d.MaxDeliver)
	c.MaxInFlight = orDefault(c.MaxInFlight, d.MaxInFlight)
	if c.Start.Kind == "" {
		c.Start = d.Start
	}
	return c
}

func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// Validate checks a complete queue config (every field set, as after
// WithDefaults). It fails with CodeBadConfig naming the first bad field.
func (c QueueConfig) Validate() error {
	switch {
	case c.Retention != RetentionLimits && c.Retention != RetentionWorkqueue:
		return Errorf(CodeBadConfig, "retention %q: want limits or workqueue", c.Retention)
	case c.Discard != DiscardOld && c.Discard != DiscardNew:
		return Errorf(CodeBadConfig, "discard %q: want old or new", c.Discard)
	case c.MaxMessages <= 0:
		return Errorf(CodeBadConfig, "maxMessages %d: want > 0", c.MaxMessages)
	case c.MaxBytes <= 0:
		return Errorf(CodeBadConfig, "maxBytes %d: want > 0", c.MaxBytes)
	case c.MaxMessageSize <= 0 || c.MaxMessageSize > MaxMessageSizeMax:
		return Errorf(CodeBadConfig, "maxMessageSize %d: want 1..%d", c.MaxMessageSize, MaxMessageSizeMax)
	case c.MaxMessageSize > c.MaxBytes:
		return Errorf(CodeBadConfig, "maxMessageSize %d exceeds maxBytes %d", c.MaxMessageSize, c.MaxBytes)
	case c.MaxDeadLetters <= 0 || c.MaxDeadLetters > MaxDeadLetterLimit:
		return Errorf(CodeBadConfig, "maxDeadLetters %d: want 1..%d", c.MaxDeadLetters, MaxDeadLetterLimit)
	}
	if err := validDuration("maxAge", c.MaxAge, 0); err != nil {
		return err
	}
	if err := validDuration("dedupWindow", c.DedupWindow, 0); err != nil {
		return err
	}
	return c.Group.Validate()
}

// Validate checks a complete group config. It fails with CodeBadConfig.
func (c GroupConfig) Validate() error {
	switch {
	case c.MaxDeliver < 1 || c.MaxDeliver > MaxDeliverLimit:
		return Errorf(CodeBadConfig, "maxDeliver %d: want 1..%d", c.MaxDeliver, MaxDeliverLimit)
	case c.MaxInFlight < 1 || c.MaxInFlight > MaxInFlightLimit:
		return Errorf(CodeBadConfig, "maxInFlight %d: want 1..%d", c.MaxInFlight, MaxInFlightLimit)
	}
	if err := validDuration("ackWait", c.AckWait, 1); err != nil {
		return err
	}
	return c.Start.validate()
}

func (p Position) validate() error {
	switch p.Kind {
	case FromNew, FromFirst, FromSeq, FromTime:
		return nil
	}
	return Errorf(CodeBadConfig, "start %q: want new, first, seq or time", p.Kind)
}

func validDuration(name string, d, min time.Duration) error {
	if d < min || d > MaxDurationLimit {
		return Errorf(CodeBadConfig, "%s %v: want %v..%v", name, d, min, MaxDurationLimit)
	}
	return nil
}

// addDur returns t+d, saturating instead of overflowing.
func addDur(t int64, d time.Duration) int64 {
	const maxInt64 = 1<<63 - 1
	if d > 0 && t > maxInt64-int64(d) {
		return maxInt64
	}
	return t + int64(d)
}

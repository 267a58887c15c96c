package protocol

// Pieces of the hand-written frame encoders of the gateway and the client
// (their fastframe.go): each writes a common frame exactly as encoding/json
// would, and falls back to encoding/json for anything else. These are the
// checks and the one field writer they share.

// IsZero reports whether no field of f is set. Every field of Frame must be
// listed here (TestFrameIsZeroCoversEveryField checks it), or a fast encoder
// would drop a field it does not know.
func (f *Frame) IsZero() bool {
	return f.Type == "" && f.ID == "" && f.Queue == "" && f.MsgID == "" && f.Event == "" &&
		f.Data == nil && f.Binary == nil && f.Headers == nil && f.DeliverAt == "" && f.Messages == nil &&
		f.Seq == 0 && !f.Duplicate && f.Results == nil && f.Group == "" && f.From == "" &&
		f.FromSeq == 0 && f.FromTime == "" && f.AckWait == "" && f.MaxDeliver == 0 &&
		f.MaxInFlight == 0 && f.Sub == "" && f.Time == "" && f.Attempt == 0 && f.Seqs == nil &&
		f.Delay == "" && f.Code == "" && f.Message == ""
}

// PlainJSON reports whether encoding/json writes each of ss between quotes
// as it is: printable ASCII other than '"' and '\' and, when htmlEscape is
// set (as in json.Marshal), other than '<', '>' and '&'.
func PlainJSON(htmlEscape bool, ss ...string) bool {
	for _, s := range ss {
		if !plainJSON(s, htmlEscape) {
			return false
		}
	}
	return true
}

func plainJSON(s string, htmlEscape bool) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\':
			return false
		case htmlEscape && (c == '<' || c == '>' || c == '&'):
			return false
		}
	}
	return true
}

// AppendField appends ,"key":"v" to buf, or nothing when v is empty (like
// omitempty). v must be PlainJSON.
func AppendField(buf []byte, key, v string) []byte {
	if v == "" {
		return buf
	}
	buf = append(append(append(buf, ',', '"'), key...), `":"`...)
	return append(append(buf, v...), '"')
}

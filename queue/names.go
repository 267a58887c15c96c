package queue

// MaxNameLen is the longest queue or group name.
const MaxNameLen = 128

// ValidateName checks a queue or group name: 1–128 characters of
// [A-Za-z0-9_.-], starting with a letter or digit. Fails with CodeBadName.
func ValidateName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen {
		return Errorf(CodeBadName, "name %q: want 1..%d characters", name, MaxNameLen)
	}
	if !isAlnum(name[0]) {
		return Errorf(CodeBadName, "name %q: must start with a letter or digit", name)
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return Errorf(CodeBadName, "name %q: character %q not allowed", name, c)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

# Reads `go test -v` output and prints every skipped test with its reason,
# one line each: "SKIP package Test/sub: reason". The reason is what the
# test logged since it last ran ("=== RUN" / "=== CONT"), normally t.Skip's
# message.
/^=== (RUN|CONT|PAUSE|NAME) / { cur = $3; next }
/^ *--- (PASS|FAIL): / { cur = ""; next }
/^ *--- SKIP: / {
	name = $3
	n++
	reason = "(no reason given)"
	if (name in msg) reason = msg[name]
	pending[n] = name ": " reason
	cur = ""
	next
}
/^(ok|FAIL|\?) / {
	for (i = 1; i <= n; i++) print "SKIP " $2 " " pending[i]
	n = 0
	delete msg
	next
}
cur != "" && /^ +[^ ].*\.go:[0-9]+: / {
	line = $0
	sub(/^ +/, "", line)
	if (cur in msg) line = msg[cur] "; " line
	msg[cur] = line
}

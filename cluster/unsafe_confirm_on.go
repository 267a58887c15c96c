//go:build carrier_unsafe_early_confirm

package cluster

// unsafeEarlyConfirm is true only in a binary built with
// -tags carrier_unsafe_early_confirm: publishes are confirmed as soon as the
// leader hands them to raft (confirmEarly). Never ship such a binary; the
// fault suite builds one to prove its checker fails on it.
const unsafeEarlyConfirm = true

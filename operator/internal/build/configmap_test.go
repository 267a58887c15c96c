package build

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

func TestConfigMapEmptyByDefault(t *testing.T) {
	if d := ConfigMap(newCluster()).Data; len(d) != 0 {
		t.Errorf("data %v, want none: unset fields keep the server's defaults", d)
	}
}

func TestConfigMapVariables(t *testing.T) {
	qc := newCluster()
	qc.Spec.Config = v1alpha1.ServerConfig{
		LogLevel: "debug", AutoCreate: ptr(false), MaxStoreBytes: ptr(resource.MustParse("1Gi")),
		HeartbeatTimeout: ptr(v1alpha1.Duration("1s")), ElectionTimeout: ptr(v1alpha1.Duration("2s")),
		SnapshotInterval: ptr(v1alpha1.Duration("2m")), SnapshotThreshold: ptr(int64(8192)),
		TrailingLogs: ptr(int64(0)), RaftSegmentBytes: ptr(resource.MustParse("32Mi")),
	}
	want := map[string]string{
		"CARRIER_LOG_LEVEL": "debug", "CARRIER_AUTO_CREATE": "false", "CARRIER_MAX_STORE_BYTES": "1073741824",
		"CARRIER_HEARTBEAT_TIMEOUT": "1s", "CARRIER_ELECTION_TIMEOUT": "2s", "CARRIER_SNAPSHOT_INTERVAL": "2m",
		"CARRIER_SNAPSHOT_THRESHOLD": "8192", "CARRIER_TRAILING_LOGS": "0", "CARRIER_RAFT_SEGMENT_BYTES": "33554432",
	}
	if got := ConfigMap(qc).Data; !maps.Equal(got, want) {
		t.Errorf("data:\n got %v\nwant %v", got, want)
	}
}

func TestMaxStoreBytesFromMemoryLimit(t *testing.T) {
	qc := newCluster()
	qc.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}
	if got := ConfigData(qc)["CARRIER_MAX_STORE_BYTES"]; got != "1073741824" {
		t.Errorf("with a 2Gi limit: %q, want half of it", got)
	}
	qc.Spec.Config.MaxStoreBytes = ptr(resource.MustParse("512Mi"))
	if got := ConfigData(qc)["CARRIER_MAX_STORE_BYTES"]; got != "536870912" {
		t.Errorf("with maxStoreBytes set: %q, want it", got)
	}
}

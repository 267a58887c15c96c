package build

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// ConfigMap holds the server settings of spec.config as the CARRIER_<FLAG>
// variables `carrier serve` reads; the pods take them with envFrom.
func ConfigMap(qc *v1alpha1.QueueCluster) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   typeMeta("v1", "ConfigMap"),
		ObjectMeta: objectMeta(qc, ConfigMapName(qc)),
		Data:       ConfigData(qc),
	}
}

// ConfigData is the ConfigMap's data: one variable per set field of
// spec.config. maxStoreBytes defaults to half the container's memory limit
// when one is set, so that stored messages cannot exhaust it.
func ConfigData(qc *v1alpha1.QueueCluster) map[string]string {
	c := qc.Spec.Config
	d := map[string]string{}
	set := func(flag, v string) {
		if v != "" {
			d["CARRIER_"+flag] = v
		}
	}
	set("LOG_LEVEL", string(c.LogLevel))
	if c.AutoCreate != nil {
		set("AUTO_CREATE", strconv.FormatBool(*c.AutoCreate))
	}
	set("MAX_STORE_BYTES", bytes(maxStoreBytes(qc)))
	set("HEARTBEAT_TIMEOUT", duration(c.HeartbeatTimeout))
	set("ELECTION_TIMEOUT", duration(c.ElectionTimeout))
	set("SNAPSHOT_INTERVAL", duration(c.SnapshotInterval))
	set("SNAPSHOT_THRESHOLD", integer(c.SnapshotThreshold))
	set("TRAILING_LOGS", integer(c.TrailingLogs))
	set("RAFT_SEGMENT_BYTES", bytes(c.RaftSegmentBytes))
	return d
}

// maxStoreBytes is spec.config.maxStoreBytes, else half the memory limit,
// else nil (the server's default).
func maxStoreBytes(qc *v1alpha1.QueueCluster) *resource.Quantity {
	if q := qc.Spec.Config.MaxStoreBytes; q != nil {
		return q
	}
	limit, ok := qc.Spec.Resources.Limits[corev1.ResourceMemory]
	if !ok || limit.Value() <= 0 {
		return nil
	}
	return resource.NewQuantity(limit.Value()/2, resource.BinarySI)
}

// bytes is q as a plain integer (the server's flags take bytes, not "1Gi").
func bytes(q *resource.Quantity) string {
	if q == nil {
		return ""
	}
	return strconv.FormatInt(q.Value(), 10)
}

func duration(d *v1alpha1.Duration) string {
	if d == nil {
		return ""
	}
	return string(*d)
}

func integer(n *int64) string {
	if n == nil {
		return ""
	}
	return strconv.FormatInt(*n, 10)
}

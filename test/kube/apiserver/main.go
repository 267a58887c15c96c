// Command kube-apiserver is the upstream Kubernetes API server, unchanged, built from the
// k8s.io/kubernetes module at the version this module's go.mod pins. Its imports are those
// of upstream's cmd/kube-apiserver, less time/tzdata (only CronJob time zones need it, and
// the system's zoneinfo serves them).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // the JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go's metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // the version metric
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}

// Command kube-controller-manager is the upstream Kubernetes controller
// manager, unchanged, built from the k8s.io/kubernetes module at the version
// this module's go.mod pins (the StatefulSet, EndpointSlice, garbage
// collector and volume controllers the end-to-end tests need). Its imports are
// those of upstream's cmd/kube-controller-manager, less time/tzdata (the
// system's zoneinfo serves CronJob time zones).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // the JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go's metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // the version metric
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}

package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/types"

	"github.com/carriermq/carrier/operator/controller"
	"github.com/carriermq/carrier/operator/dataplane"
)

// flags are the operator's command line.
type flags struct {
	help, version       bool
	kubeconfig          string
	namespaces          []string
	leaderElect         bool
	leaderElectionID    string
	leaderElectionNS    string
	metricsAddr         string
	probeAddr           string
	logLevel, logFormat string
	refresh, maxBackoff time.Duration
	stepTimeout         time.Duration
	endpoints           map[types.NamespacedName][]string
}

func parseFlags(args []string, out io.Writer) (*flags, error) {
	f := &flags{}
	fs := pflag.NewFlagSet("carrier-operator", pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, in-cluster, then ~/.kube/config)")
	fs.StringSliceVar(&f.namespaces, "namespace", nil, "watch only these namespaces (repeat or comma-separate); default: every namespace")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect one active operator among replicas with a Lease (turn on when running more than one)")
	fs.StringVar(&f.leaderElectionID, "leader-election-id", "carrier-operator.carrier.dev", "name of the leader election Lease")
	fs.StringVar(&f.leaderElectionNS, "leader-election-namespace", "", "namespace of the Lease (default: the operator's own, in a cluster)")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus /metrics endpoint; 0 turns it off")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz; 0 turns them off")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or text")
	fs.DurationVar(&f.refresh, "refresh-interval", controller.DefaultRefresh, "how often each object's status is read from its cluster")
	fs.DurationVar(&f.maxBackoff, "max-backoff", controller.DefaultMaxBackoff, "longest wait between attempts while a cluster is unreachable")
	fs.DurationVar(&f.stepTimeout, "step-timeout", controller.DefaultStepTimeout, "longest a step of a rollout, scale or storage expansion may take (a pod back and ready, a member promoted, a volume grown) before the operation halts with Degraded")
	eps := fs.StringArray("data-plane-endpoint", nil, "namespace/name=URL[,URL…]: reach that QueueCluster's admin API there instead of its client Service (for tests and development; repeatable)")
	fs.BoolVarP(&f.help, "help", "h", false, "show this help")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.help {
		fs.PrintDefaults()
		return f, nil
	}
	if f.version {
		fmt.Fprintln(out, versionLine())
		return f, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if f.refresh <= 0 || f.maxBackoff < f.refresh {
		return nil, errors.New("--refresh-interval must be positive and --max-backoff at least as long")
	}
	if f.stepTimeout < f.refresh {
		return nil, errors.New("--step-timeout must be at least as long as --refresh-interval")
	}
	return f, f.parseEndpoints(*eps)
}

func (f *flags) parseEndpoints(list []string) error {
	f.endpoints = map[types.NamespacedName][]string{}
	for _, s := range list {
		nn, urls, err := dataplane.ParseOverride(s)
		if err != nil {
			return err
		}
		f.endpoints[nn] = urls
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
)

// config is what the flags set.
type config struct {
	kubeconfig string
	name       string
	podCIDR    netip.Prefix
	stateDir   string
	clusterDNS netip.Addr
	domain     string
	cpu        resource.Quantity
	memory     resource.Quantity
	pods       int
	zone       string
	workers    int
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("carrier-nodeagent", flag.ContinueOnError)
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig of a user that may manage nodes, leases, pods and events")
	fs.StringVar(&c.name, "name", "", "the node's name")
	cidr := fs.String("pod-cidr", "", "loopback range the pods' addresses come from (its first address is the node's), e.g. 127.64.1.0/24")
	fs.StringVar(&c.stateDir, "state-dir", "", "folder for the pods' volumes, logs and container layers")
	dns := fs.String("cluster-dns", "", "address of the cluster DNS server (port 53), written into each pod's resolv.conf")
	fs.StringVar(&c.domain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	cpu := fs.String("cpu", "8", "the node's CPU capacity")
	mem := fs.String("memory", "16Gi", "the node's memory capacity")
	fs.IntVar(&c.pods, "pods", 110, "how many pods the node takes")
	fs.StringVar(&c.zone, "zone", "", "topology.kubernetes.io/zone label of the node, if any")
	fs.IntVar(&c.workers, "workers", 32, "pods synced at once (a deletion holds one until its processes are gone)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var err error
	if c.podCIDR, err = netip.ParsePrefix(*cidr); err != nil || !c.podCIDR.Addr().IsLoopback() || !c.podCIDR.Addr().Is4() {
		return c, fmt.Errorf("--pod-cidr %q: want an IPv4 loopback range such as 127.64.1.0/24", *cidr)
	}
	if c.clusterDNS, err = netip.ParseAddr(*dns); err != nil {
		return c, fmt.Errorf("--cluster-dns %q: %w", *dns, err)
	}
	if c.cpu, err = resource.ParseQuantity(*cpu); err != nil {
		return c, fmt.Errorf("--cpu: %w", err)
	}
	if c.memory, err = resource.ParseQuantity(*mem); err != nil {
		return c, fmt.Errorf("--memory: %w", err)
	}
	switch {
	case c.name == "":
		return c, errors.New("--name is required")
	case c.stateDir == "":
		return c, errors.New("--state-dir is required")
	case os.Geteuid() != 0:
		return c, errors.New("must run as root: containers need namespaces, mounts, chroot and setuid")
	}
	c.stateDir, err = filepath.Abs(c.stateDir)
	return c, err
}

// run registers the node and serves its pods until ctx ends; then every
// container is killed at once and the images unmounted.
func run(ctx context.Context, args []string) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	restCfg.QPS, restCfg.Burst = 50, 100
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the agent's own binary (the container helper): %w", err)
	}
	images := newImages(cfg.name)
	defer images.release()
	return serve(ctx, cfg, client, images, self)
}

// serve runs virtual-kubelet's pod and node controllers (the node's
// status and its lease, renewed as a kubelet renews it) with the provider,
// as its nodeutil package would, without its HTTP API (so without the
// Kubernetes API server libraries it needs for authentication).
func serve(ctx context.Context, cfg config, client kubernetes.Interface, imgs *images, self string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	podInformers := informers.NewSharedInformerFactoryWithOptions(client, 30*time.Second,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.name).String()
		}))
	others := informers.NewSharedInformerFactory(client, 30*time.Second)
	pods, secrets, configMaps, services := podInformers.Core().V1().Pods(), others.Core().V1().Secrets(),
		others.Core().V1().ConfigMaps(), others.Core().V1().Services()
	prov := newProvider(cfg, client, configMaps.Lister(), secrets.Lister(), imgs, self)
	defer prov.shutdown()

	events := record.NewBroadcaster()
	defer events.Shutdown()
	events.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: client.CoreV1().Events(corev1.NamespaceAll)})
	pc, err := node.NewPodController(node.PodControllerConfig{
		PodClient: client.CoreV1(), PodInformer: pods, SecretInformer: secrets, ConfigMapInformer: configMaps,
		ServiceInformer: services, Provider: prov, SkipDownwardAPIResolution: true, // the provider resolves env, pod IP included
		EventRecorder: events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: cfg.name}),
	})
	if err != nil {
		return fmt.Errorf("pod controller: %w", err)
	}
	var n corev1.Node
	nodeSpec(&n, cfg)
	nc, err := node.NewNodeController(node.NewNaiveNodeProvider(), &n, client.CoreV1().Nodes(),
		node.WithNodeEnableLeaseV1(client.CoordinationV1().Leases(corev1.NamespaceNodeLease), node.DefaultLeaseDuration))
	if err != nil {
		return fmt.Errorf("node controller: %w", err)
	}
	podInformers.Start(ctx.Done())
	others.Start(ctx.Done())
	go func() { _ = pc.Run(ctx, cfg.workers) }()
	select {
	case <-pc.Ready():
	case <-pc.Done():
		return fmt.Errorf("pod controller: %w", pc.Err())
	case <-ctx.Done():
		return nil
	}
	go func() { _ = nc.Run(ctx) }()
	slog.Info("node agent ready", "node", cfg.name, "pods", cfg.podCIDR, "dns", cfg.clusterDNS)
	select {
	case <-ctx.Done():
		<-pc.Done()
		return nil
	case <-pc.Done():
		return fmt.Errorf("pod controller: %w", pc.Err())
	case <-nc.Done():
		return fmt.Errorf("node controller: %w", nc.Err())
	}
}

// nodeSpec is what the node reports: labels, addresses, capacity, Ready
// (the lease and status heartbeats keep it so) and no taints, so that pods
// schedule on it as on a kubelet's node.
func nodeSpec(n *corev1.Node, cfg config) {
	n.Name = cfg.name
	n.Labels = map[string]string{
		"kubernetes.io/hostname": cfg.name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     runtime.GOARCH,
		"type":                   "carrier-nodeagent",
	}
	if cfg.zone != "" {
		n.Labels["topology.kubernetes.io/zone"] = cfg.zone
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              cfg.cpu,
		corev1.ResourceMemory:           cfg.memory,
		corev1.ResourcePods:             *resource.NewQuantity(int64(cfg.pods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	n.Status.Capacity, n.Status.Allocatable = capacity, capacity.DeepCopy()
	n.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: nodeAddr(cfg.podCIDR).String()},
		{Type: corev1.NodeHostName, Address: cfg.name},
	}
	n.Status.NodeInfo = corev1.NodeSystemInfo{
		OperatingSystem:         "linux",
		Architecture:            runtime.GOARCH,
		KubeletVersion:          "v1.36.3",
		ContainerRuntimeVersion: "carrier-nodeagent://1",
	}
	n.Status.Conditions = []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "carrier-nodeagent is posting ready status"},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID"},
		{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated"},
	}
	n.Spec.PodCIDR = cfg.podCIDR.String()
	n.Spec.PodCIDRs = []string{cfg.podCIDR.String()}
}

// nodeAddr is the node's own address: the range's first host address.
func nodeAddr(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

package build

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	kubetest "github.com/carriermq/carrier/test/kube"
)

// The operator's children, with the real Carrier image, run on three node
// agents: Kubernetes' StatefulSet controller makes the pods and claims, the
// scheduler spreads them, the provisioner binds the claims, the pods find
// each other through the cluster DNS and form one 3-node cluster, which
// answers through the client Service's proxy.
func TestChildrenRunOnNodeAgents(t *testing.T) {
	kubetest.NodeAgent(t) // skips first when agents cannot run here
	cp := kubetest.Start(t,
		kubetest.WithCRDDirectories(filepath.Join("..", "..", "config", "crd")),
		kubetest.WithScheme(v1alpha1.AddToScheme))
	cp.StartControllers(t)
	cp.StartProvisioner(t, map[string]bool{"local": true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	octet := byte(os.Getpid() % 250)
	dnsAddr := netip.AddrFrom4([4]byte{127, 53, octet, 1})
	dns := cp.StartDNS(t, netip.AddrPortFrom(dnsAddr, 53).String())
	cp.StartNodes(t, 3, dnsAddr)
	image := kubetest.Image(t)

	c := cp.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}); err != nil {
		t.Fatal(err)
	}
	qc := newCluster()
	qc.UID = ""
	qc.Spec.Image = image
	qc.Spec.Storage.StorageClassName = ptr("local")
	if err := c.Create(ctx, qc); err != nil {
		t.Fatalf("create QueueCluster: %v", err)
	}
	for _, obj := range []client.Object{ConfigMap(qc), ServiceAccount(qc), HeadlessService(qc), ClientService(qc), StatefulSet(qc, StatefulSetParams{})} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create %s: %v", obj.GetName(), err)
		}
	}
	proxyIP := netip.AddrFrom4([4]byte{127, 54, octet, 1})
	cp.StartServiceProxy(t, "prod", ClientServiceName(qc), proxyIP)
	dns.SetServiceAddress("prod", ClientServiceName(qc), proxyIP)

	url := fmt.Sprintf("http://%s/v1/cluster", netip.AddrPortFrom(proxyIP, HTTPPort))
	var last string
	for tick := time.NewTicker(500 * time.Millisecond); ; {
		if n, err := voters(ctx, url); err == nil && n == 3 {
			break
		} else {
			last = fmt.Sprintf("%d voters, %v", n, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no 3-node cluster through the client Service: %s", last)
		case <-tick.C:
		}
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace("prod")); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]bool{}
	for _, p := range pods.Items {
		nodes[p.Spec.NodeName] = true
	}
	if len(pods.Items) != 3 || len(nodes) != 3 {
		t.Errorf("%d pods on %d nodes, want 3 on 3 (soft anti-affinity, three empty nodes)", len(pods.Items), len(nodes))
	}
}

// voters is how many voters with a leader the cluster reports at url.
func voters(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Leader  string `json:"leader"`
		Members []struct {
			Suffrage string `json:"suffrage"`
		} `json:"members"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("%s: %w", resp.Status, err)
	}
	n := 0
	for _, m := range st.Members {
		if m.Suffrage == "Voter" {
			n++
		}
	}
	if st.Leader == "" {
		return n, fmt.Errorf("no leader")
	}
	return n, nil
}

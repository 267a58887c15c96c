// Package dataplane is how the operator reaches a Carrier cluster: through
// its public HTTP admin API (the client package's Admin), exactly as a user
// would, never through Raft. Endpoints says at which URLs a QueueCluster
// answers; Client tries them in turn and tells an unreachable data plane
// from one that answered with an error.
package dataplane

import (
	"fmt"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/carriermq/carrier/operator/internal/build"
)

// Endpoints says at which base URLs the admin API of a QueueCluster
// answers, in the order to try them.
type Endpoints interface {
	URLs(cluster types.NamespacedName) []string
}

// ServiceEndpoints is the cluster's client Service, the way in from inside
// Kubernetes: http://<name>.<namespace>.svc:7420. The Service sends a
// request to a ready node; any node answers the admin API (followers
// forward writes to the leader).
type ServiceEndpoints struct{}

// URLs returns the client Service's URL.
func (ServiceEndpoints) URLs(c types.NamespacedName) []string {
	return []string{fmt.Sprintf("http://%s.%s.svc:%d", c.Name, c.Namespace, build.HTTPPort)}
}

// Overrides replace the endpoints of some clusters and leave the others to
// Fallback. They exist for tests and development: under envtest no kubelet
// runs pods, so tests point the operator at real `carrier serve` processes
// on loopback. In a cluster none is set.
type Overrides struct {
	URLsOf   map[types.NamespacedName][]string
	Fallback Endpoints
}

// URLs returns the override of c, else Fallback's.
func (o Overrides) URLs(c types.NamespacedName) []string {
	if u, ok := o.URLsOf[c]; ok {
		return u
	}
	return o.Fallback.URLs(c)
}

// ParseOverride reads "namespace/name=URL[,URL…]", the operator's
// --data-plane-endpoint flag.
func ParseOverride(s string) (types.NamespacedName, []string, error) {
	key, list, ok := strings.Cut(s, "=")
	ns, name, okName := strings.Cut(key, "/")
	if !ok || !okName || ns == "" || name == "" || list == "" {
		return types.NamespacedName{}, nil, fmt.Errorf("data-plane endpoint %q: want namespace/name=URL[,URL…]", s)
	}
	var urls []string
	for _, u := range strings.Split(list, ",") {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return types.NamespacedName{}, nil, fmt.Errorf("data-plane endpoint %q: %q is not an http(s) URL", s, u)
		}
		urls = append(urls, strings.TrimRight(u, "/"))
	}
	return types.NamespacedName{Namespace: ns, Name: name}, urls, nil
}

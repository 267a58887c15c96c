// Command carrier-nodeagent is a node of a test cluster: a virtual-kubelet
// whose provider runs each pod's containers as local processes, chrooted
// into the image's root filesystem (from buildah's local storage) in their
// own mount, PID and UTS namespaces, each pod on a loopback address of its
// own. It stands in for a kubelet and a container runtime on machines that
// have neither; see DESIGN.md.
//
//	carrier-nodeagent --kubeconfig=FILE --name=NODE --pod-cidr=127.64.1.0/24 \
//	    --state-dir=DIR --cluster-dns=127.53.0.1
//
// It needs root (namespaces, mounts, chroot, setuid). SIGTERM or SIGINT
// stop it, and every container it runs with it, at once, as a node that
// loses power: the pods stay in the API server until the node comes back or
// Kubernetes' controllers act on the node. The same binary, called as
// "carrier-nodeagent init SPEC", is the small helper that sets up a
// container inside its new namespaces and execs its process.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == initCommand {
		// Only returns on error: on success the container's process replaced it.
		err := containerInit(os.Args[2:])
		fmt.Fprintf(os.Stderr, "carrier-nodeagent init: %v\n", err)
		os.Exit(initFailed)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		slog.Error("carrier-nodeagent", "err", err)
		os.Exit(1)
	}
}

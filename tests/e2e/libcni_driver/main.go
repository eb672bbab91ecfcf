// A small runtime built on libcni, so that e2e tests can let the reference
// library itself judge the plugins. Built by the e2e fixtures in GOPATH mode
// against Debian's golang-github-appc-cni-dev; never committed as a binary.
//
// Usage (CNI_PATH names the plugin directories, DRIVER_CACHE_DIR the cache):
//
//	libcni-driver add|check|del CONFLIST NETNS IFNAME CONTAINERID
//	libcni-driver validate CONFLIST
//	libcni-driver version PLUGIN-TYPE
//
// Prints the result (add), the capabilities (validate) or the supported
// versions (version) as JSON on stdout; on failure prints the error on stderr
// and exits 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func fail(err error) {
	fmt.Fprintf(os.Stderr, "%v\n", err)
	os.Exit(1)
}

func emit(v interface{}) {
	out, err := json.Marshal(v)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func main() {
	if len(os.Args) < 3 {
		fail(fmt.Errorf("usage: libcni-driver add|check|del|validate|version ..."))
	}
	op := os.Args[1]
	cni := libcni.NewCNIConfigWithCacheDir(
		strings.Split(os.Getenv("CNI_PATH"), ":"), os.Getenv("DRIVER_CACHE_DIR"), nil)
	ctx := context.Background()
	if op == "version" {
		info, err := cni.GetVersionInfo(ctx, os.Args[2])
		if err != nil {
			fail(err)
		}
		emit(info.SupportedVersions())
		return
	}
	list, err := libcni.ConfListFromFile(os.Args[2])
	if err != nil {
		fail(err)
	}
	if op == "validate" {
		caps, err := cni.ValidateNetworkList(ctx, list)
		if err != nil {
			fail(err)
		}
		emit(caps)
		return
	}
	if len(os.Args) != 6 {
		fail(fmt.Errorf("usage: libcni-driver %s CONFLIST NETNS IFNAME CONTAINERID", op))
	}
	rt := &libcni.RuntimeConf{NetNS: os.Args[3], IfName: os.Args[4], ContainerID: os.Args[5]}
	switch op {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		emit(res)
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	default:
		fail(fmt.Errorf("unknown operation %q", op))
	}
}

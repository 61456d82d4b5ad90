// Command pulumi-tfgen-random writes schema.json and bridge-metadata.json for the random
// provider (build-pulumi.sh runs: pulumi-tfgen-random schema --out DIR --skip-docs --skip-examples).
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"gitops-control.local/toolchain/pulumi-random/info"
)

var version string // set with -ldflags "-X main.version=..."

func main() {
	tfgen.Main("random", info.Provider(version, nil))
}

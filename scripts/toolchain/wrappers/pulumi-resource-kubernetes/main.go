// Command pulumi-resource-kubernetes serves the Pulumi Kubernetes provider from the
// github.com/pulumi/pulumi-kubernetes/provider/v4 Go module.
//
// The upstream main embeds files that its Makefile generates and that are not in the module
// zip, so build-pulumi.sh copies the committed schema.json and terraform-mapping.json from the
// module directory next to this file before building. The version comes from the linker
// (-X .../pkg/version.Version) and is written into the schema at start-up.
package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schema []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println(version.Version)
		return
	}
	provider.Serve("kubernetes", version.Version, withVersion(schema, version.Version), terraformMapping)
}

// withVersion sets the top-level "version" of a package schema, keeping every other key as is.
func withVersion(schema []byte, v string) []byte {
	var spec map[string]json.RawMessage
	if err := json.Unmarshal(schema, &spec); err != nil {
		panic(fmt.Sprintf("embedded schema.json: %v", err))
	}
	spec["version"], _ = json.Marshal(v)
	out, err := json.Marshal(spec)
	if err != nil {
		panic(err)
	}
	return out
}

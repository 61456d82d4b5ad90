// Package codegen stands in for github.com/pulumi/pulumi-yaml/pkg/pulumiyaml/codegen, whose
// pinned pseudo-version the Go module proxy refuses. The bridge's tfgen only calls it to
// translate documentation examples to YAML, which build-pulumi.sh skips (--skip-examples).
package codegen

import (
	"errors"

	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/pulumi/pkg/v3/codegen/pcl"
)

// GenerateProgram always fails: example conversion is not part of this build.
func GenerateProgram(*pcl.Program) (map[string][]byte, hcl.Diagnostics, error) {
	return nil, nil, errors.New("YAML program generation is not available in this build")
}

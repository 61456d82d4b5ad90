// Package codegen stands in for github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3/codegen,
// whose pinned pseudo-version the Go module proxy refuses. The bridge's tfgen uses it for the
// "csharp" language sections of the package schema (plain data, kept here) and to translate
// documentation examples to C# (skipped by build-pulumi.sh with --skip-examples).
package codegen

import (
	"errors"

	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/pulumi/pkg/v3/codegen/pcl"
)

// CSharpPackageInfo is the schema's language.csharp section of a package.
type CSharpPackageInfo struct {
	PackageReferences            map[string]string `json:"packageReferences,omitempty"`
	Namespaces                   map[string]string `json:"namespaces,omitempty"`
	Compatibility                string            `json:"compatibility,omitempty"`
	DictionaryConstructors       bool              `json:"dictionaryConstructors,omitempty"`
	ProjectReferences            []string          `json:"projectReferences,omitempty"`
	RootNamespace                string            `json:"rootNamespace,omitempty"`
	LiftSingleValueMethodReturns bool              `json:"liftSingleValueMethodReturns,omitempty"`
	RespectSchemaVersion         bool              `json:"respectSchemaVersion,omitempty"`
}

// CSharpPropertyInfo is the schema's language.csharp section of a property.
type CSharpPropertyInfo struct {
	Name string `json:"name,omitempty"`
}

// CSharpResourceInfo is the schema's language.csharp section of a resource.
type CSharpResourceInfo struct {
	Name string `json:"name,omitempty"`
}

// GenerateProgram always fails: example conversion is not part of this build.
func GenerateProgram(*pcl.Program) (map[string][]byte, hcl.Diagnostics, error) {
	return nil, nil, errors.New("C# program generation is not available in this build")
}

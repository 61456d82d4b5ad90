// Package shim exposes the Terraform random provider to the bridge.
//
// The provider lives in an internal package, so this package has to sit under the
// github.com/terraform-providers/terraform-provider-random/ import path to be allowed to
// import it; build-pulumi.sh writes its go.mod and points the wrapper module at it with a
// replace directive.
package shim

import (
	tfprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the Terraform Plugin Framework provider "random".
func NewProvider() tfprovider.Provider { return provider.New() }

// Command argocd-reconcilers runs Argo CD's own reconcilers out of cluster for the reconciler test
// layer: the application controller, repo-server, ApplicationSet controller, notifications
// controller and the git credential helper the repo-server hands to git. It only dispatches to
// the cobra commands Argo CD publishes in its module (the API server and CLI are not linked in);
// like Argo CD's own binary, it picks the command from its file name or ARGOCD_BINARY_NAME, so
// scripts/toolchain/build-argocd.sh installs one binary under each of these names.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	appcontroller "github.com/argoproj/argo-cd/v3/cmd/argocd-application-controller/commands"
	applicationset "github.com/argoproj/argo-cd/v3/cmd/argocd-applicationset-controller/commands"
	gitaskpass "github.com/argoproj/argo-cd/v3/cmd/argocd-git-ask-pass/commands"
	notification "github.com/argoproj/argo-cd/v3/cmd/argocd-notification/commands"
	reposerver "github.com/argoproj/argo-cd/v3/cmd/argocd-repo-server/commands"
	"github.com/argoproj/argo-cd/v3/common"
	"github.com/argoproj/argo-cd/v3/util/grpc"
	"github.com/argoproj/argo-cd/v3/util/log"
)

func init() {
	klog.SetLogger(log.NewLogrusLogger(log.NewWithCurrentConfig()))
}

func main() {
	grpc.DisableSRVLookups()
	name := filepath.Base(os.Args[0])
	if v := os.Getenv("ARGOCD_BINARY_NAME"); v != "" {
		name = v
	}
	commands := map[string]func() *cobra.Command{
		common.CommandApplicationController:    appcontroller.NewCommand,
		common.CommandRepoServer:               reposerver.NewCommand,
		common.CommandApplicationSetController: applicationset.NewCommand,
		common.CommandNotifications:            notification.NewCommand,
		common.CommandGitAskPass:               gitaskpass.NewCommand,
	}
	newCommand, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: unknown command name; install this binary as one of %s, %s, %s, %s, %s\n", name,
			common.CommandApplicationController, common.CommandRepoServer, common.CommandApplicationSetController,
			common.CommandNotifications, common.CommandGitAskPass)
		os.Exit(2)
	}
	if err := newCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

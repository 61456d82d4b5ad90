/**
 * The pre-merge policy pack: every policy of `policies.ts`, mandatory. Constructing the PolicyPack
 * starts the analyzer's gRPC server and prints its port, so only the engine loads this file
 * (`pulumi preview --policy-pack policy/`, or `policy/analyzer.sh` where the CLI has no Node.js
 * language host); tests import `policies.ts` instead.
 *
 * Per-stack exceptions go in a policy config file (`--policy-pack-config`), e.g.
 * `{ "prod-crds-retained": { "stacks": ["prod", "prod-eu"] } }` or
 * `{ "chart-version-pinned": "advisory" }`, where a reviewer sees them.
 */
import { PolicyPack } from "@pulumi/policy";
import { allPolicies } from "./policies";

/** Pack name as the engine reports it (`Policies: gitops-control@v…`). */
export const policyPackName = "gitops-control";

new PolicyPack(policyPackName, { policies: allPolicies("mandatory") });

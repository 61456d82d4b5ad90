import { GuardrailRule } from "../types";
import { podBearingResources, podSpecVariable, containersVariable, podSpecChangedCondition, PodRuleOptions, checkResources, noContainer } from "./shared";

export interface DisallowLatestImageOptions extends PodRuleOptions {
    /**
     * Require every image to be pinned by digest (`@sha256:…`); a tag alone is then not enough.
     * Tags can be re-pushed, digests cannot. @default false
     */
    readonly requireDigest?: boolean;
}

/**
 * A container image reference is pinned when it carries a digest, or (unless digests are required)
 * a tag other than `latest`. The tag is whatever follows the last `:` after the last `/`, so a
 * registry port (`registry:5000/app`) is not mistaken for a tag.
 */
function pinnedImage(image: string, requireDigest: boolean): string {
    const digest = `${image}.matches('@sha256:[a-f0-9]{64}$')`;
    if (requireDigest) return digest;
    return `(${digest} || (!${image}.contains('@') && ${image}.matches(':[^:/]+$') && !${image}.endsWith(':latest')))`;
}

/**
 * Containers must not run `:latest` or untagged images: what runs would then depend on when the
 * node pulled, so Git would no longer describe the cluster.
 */
export function disallowLatestImage(options: DisallowLatestImageOptions = {}): GuardrailRule {
    checkResources(options.resources, "disallowLatestImage.resources");
    const requireDigest = options.requireDigest ?? false;
    const pinned = pinnedImage("c.image", requireDigest);
    const want = requireDigest ? "a digest (@sha256:…)" : "a version tag other than latest, or a digest (@sha256:…)";
    return {
        name: "disallow-latest-image",
        summary: requireDigest ? "Containers whose image is not pinned by digest" : "Containers running :latest or untagged images",
        why: "A floating tag makes the running version depend on pull time, so Git no longer says what runs.",
        params: { requireDigest },
        resourceRules: options.resources ?? podBearingResources,
        variables: [podSpecVariable, containersVariable],
        validations: [
            noContainer(
                `!has(c.image) || !${pinned}`,
                `every container image must carry ${want} (guardrail disallow-latest-image)`,
                `images must carry ${want}: `,
                " (guardrail disallow-latest-image)",
                "c.name + '=' + (has(c.image) ? c.image : '<none>')",
            ),
        ],
        matchConditions: [podSpecChangedCondition],
        auditAnnotations: [],
    };
}

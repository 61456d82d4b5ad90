/**
 * The break-glass carve-out is a namespace label: while an entry is open the program labels its
 * namespaces `gitops-control.io/break-glass-until=<expiry, Unix seconds>`, the environment bindings
 * of the rules the carve-out lifts skip namespaces carrying it (AdmissionGuardrails, `breakGlass:
 * "exclude"`), and the break-glass expiry job removes it at that time. So the label is as strong
 * as a binding, and only the program may set or move it.
 */
import { labels } from "../../core/labels";
import { celString, metadataValue } from "../cel";
import { ProgramIdentity, describeIdentity, requesterIs, resolveProgramIdentity } from "../identity";
import { GuardrailRule } from "../types";

export interface ProtectBreakGlassLabelOptions {
    /** Who `pulumi up` runs as: the only writer of the label. @default {@link defaultProgramIdentity} */
    readonly programIdentity?: ProgramIdentity;
}

/**
 * Setting or moving the break-glass label of any namespace (CREATE with it, UPDATE that adds it or
 * changes its value) is the program's alone, and its value is Unix seconds (what the expiry job
 * compares). Removing it ends the carve-out and puts the namespace back under every rule: anyone
 * whom RBAC lets patch the namespace may (the expiry job may only do that, by its own fence).
 * Bound to every namespace (cluster scope): a label on a namespace of any class would carve it out.
 */
export function protectBreakGlassLabel(options: ProtectBreakGlassLabelOptions = {}): GuardrailRule {
    const program = resolveProgramIdentity(options.programIdentity, "protectBreakGlassLabel.programIdentity");
    const key = labels.breakGlassUntil;
    const who = describeIdentity(program.usernames, program.groups);
    const where = "(guardrail protect-break-glass-label)";
    const value = (ref: string) => metadataValue(ref, "labels", key);
    return {
        name: "protect-break-glass-label",
        summary: `Setting or moving ${key} on a namespace as anyone but ${who}, or to a value that is not Unix seconds`,
        why: "The label carves a namespace out of the content rules until its expiry: whoever sets or moves it lifts those rules for as long as they like.",
        params: { label: key, programUsernames: program.usernames, programGroups: program.groups },
        resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["namespaces"], operations: ["CREATE", "UPDATE"] }],
        bindingScope: "cluster",
        variables: [
            {
                name: "setOrMoved",
                expression: `${value("object")} != '' && (request.operation == 'CREATE' || ${value("object")} != ${value("oldObject")})`,
            },
        ],
        validations: [
            {
                expression: `!variables.setOrMoved || ${requesterIs(program.usernames, program.groups)}`,
                message: `only ${who} may set or move ${key} on a namespace ${where}`,
                messageExpression: `request.userInfo.username + ' may not set ${key} on namespace ' + object.metadata.name + ${celString(`: it lifts the content rules there until its expiry; only the program (${who}) opens or moves a break-glass carve-out, from a breakGlass entry of the stack ${where}`)}`,
                reason: "Forbidden",
            },
            {
                // Judged once the writer is the program (anyone else is refused above): one denial per request.
                expression: `!variables.setOrMoved || !${requesterIs(program.usernames, program.groups)} || ${value("object")}.matches('^[0-9]{1,12}$')`,
                messageExpression: `'${key} on namespace ' + object.metadata.name + ' is "' + ${value("object")} + ${celString(`", not the expiry in Unix seconds ${where}`)}`,
                message: `${key} must be the expiry in Unix seconds ${where}`,
                reason: "Invalid",
            },
        ],
        matchConditions: [],
        auditAnnotations: [],
    };
}

/**
 * Helpers that write CEL source text from builder options. Option values end up inside CEL string
 * literals, so every value goes through {@link celString} rather than being pasted between quotes.
 */

/** A CEL string literal holding `value` (single-quoted, backslash and quote escaped). */
export function celString(value: string): string {
    return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** A CEL list literal of strings. */
export function celList(values: readonly string[]): string {
    return `[${values.map(celString).join(", ")}]`;
}

/** `<ref>.metadata.<field>[key]`, or `''` when the map or the key is absent. */
export function metadataValue(ref: string, field: "labels" | "annotations", key: string): string {
    const k = celString(key);
    return `(has(${ref}.metadata.${field}) && ${k} in ${ref}.metadata.${field} ? ${ref}.metadata.${field}[${k}] : '')`;
}

/**
 * Why the API server would reject `pattern` in `matches()`, or undefined. Kubernetes compiles
 * regular expressions with RE2, which has no lookaround and no backreferences; JavaScript accepts
 * both, so an offline check alone would pass a rule the API server refuses.
 */
export function re2Problem(pattern: string): string | undefined {
    try {
        new RegExp(pattern);
    } catch (e) {
        return `is not a valid regular expression (${(e as Error).message})`;
    }
    if (/\(\?<?[=!]/.test(pattern)) return "uses lookaround ((?=, (?!, (?<=, (?<!), which RE2 does not support";
    if (/\\[1-9]|\\k</.test(pattern)) return "uses a backreference, which RE2 does not support";
    return undefined;
}

/** Label keys and annotation keys: an optional DNS-subdomain prefix and a name of at most 63 characters. */
export const qualifiedName = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** CEL: the optional field `a` of the new object equals `b` of the old one (both absent counts as equal). */
export function same(a: string, b: string): string {
    return `(has(${a}) == has(${b}) && (!has(${a}) || ${a} == ${b}))`;
}

/** CEL: an UPDATE only removes finalizers (every finalizer of `object` was already on `oldObject`). */
export const finalizersOnlyRemoved =
    "(!has(object.metadata.finalizers) || object.metadata.finalizers.all(f, has(oldObject.metadata.finalizers) && f in oldObject.metadata.finalizers))";

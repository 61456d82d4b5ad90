import * as fs from "node:fs";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "./policyEvaluator";

/** One Kubernetes object read from a file. */
export interface Manifest {
    readonly file: string;
    /** Position of its document in the file (0-based), for multi-document files. */
    readonly document: number;
    readonly object: KubeObject;
}

/** A document that is not a Kubernetes object (e.g. a fixture's expectations.yaml). */
export interface SkippedDocument {
    readonly file: string;
    readonly document: number;
    readonly reason: string;
}

const manifestFile = /\.(ya?ml|json)$/;

/** Every YAML/JSON file under `target` (a file or a folder), sorted for stable output. */
export function manifestFiles(target: string): string[] {
    const stat = fs.statSync(target, { throwIfNoEntry: false });
    if (!stat) throw new Error(`${target} does not exist. Fix: name a manifest file or folder, e.g. the output of npm run --silent render -- staging > rendered.yaml`);
    if (stat.isFile()) return [target];
    return fs
        .readdirSync(target, { withFileTypes: true })
        .sort((a, b) => a.name.localeCompare(b.name))
        .flatMap((e) => (e.isDirectory() ? manifestFiles(path.join(target, e.name)) : manifestFile.test(e.name) ? [path.join(target, e.name)] : []));
}

function isKubeObject(value: unknown): value is KubeObject {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
    const v = value as Record<string, unknown>;
    return typeof v.apiVersion === "string" && typeof v.kind === "string";
}

/**
 * Reads every Kubernetes object of the given files and folders (multi-document YAML, `kind: List`
 * expanded). Throws on a YAML syntax error with file, line and column.
 */
export function loadManifests(targets: readonly string[]): { manifests: Manifest[]; skipped: SkippedDocument[] } {
    const manifests: Manifest[] = [];
    const skipped: SkippedDocument[] = [];
    for (const file of targets.flatMap(manifestFiles)) {
        const text = fs.readFileSync(file, "utf8");
        const documents = parseAllDocuments(text, { prettyErrors: true });
        if (!Array.isArray(documents)) continue; // an empty stream
        documents.forEach((doc, document) => {
            const [error] = doc.errors;
            if (error) {
                const at = error.linePos?.[0];
                throw new Error(`${file}${at ? `:${at.line}:${at.col}` : ""}: ${error.message.split("\n")[0]}`);
            }
            const value: unknown = doc.toJS();
            if (value === null || value === undefined) return;
            if (!isKubeObject(value)) {
                skipped.push({ file, document, reason: "not a Kubernetes object (no apiVersion and kind)" });
                return;
            }
            if (value.kind === "List" && Array.isArray(value.items)) {
                for (const item of value.items) {
                    if (isKubeObject(item)) manifests.push({ file, document, object: item });
                    else skipped.push({ file, document, reason: "a List item that is not a Kubernetes object" });
                }
                return;
            }
            manifests.push({ file, document, object: value });
        });
    }
    return { manifests, skipped };
}

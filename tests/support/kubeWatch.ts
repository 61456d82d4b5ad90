/**
 * Every version of one object as the API server hands it out (`kubectl get -w -o json`): a test sees
 * each status the controller writes, including shapes that last a fraction of a second and that a
 * poll would miss.
 */
import { ChildProcess, spawn } from "node:child_process";

export interface ObjectWatch<T> {
    /** Every version received so far, oldest first. */
    readonly versions: readonly T[];
    stop(): void;
}

/** Splits concatenated JSON documents (kubectl prints one indented object per version). */
export class JsonStreamSplitter {
    private buffer = "";
    private depth = 0;
    private inString = false;
    private escaped = false;
    private start = -1;

    /** Feeds text; returns the documents it completed. */
    push(text: string): unknown[] {
        const done: unknown[] = [];
        const offset = this.buffer.length;
        this.buffer += text;
        for (let i = offset; i < this.buffer.length; i++) {
            const c = this.buffer[i];
            if (this.inString) {
                if (this.escaped) this.escaped = false;
                else if (c === "\\") this.escaped = true;
                else if (c === '"') this.inString = false;
                continue;
            }
            if (c === '"') this.inString = true;
            else if (c === "{") {
                if (this.depth === 0) this.start = i;
                this.depth++;
            } else if (c === "}") {
                this.depth--;
                if (this.depth === 0) done.push(JSON.parse(this.buffer.slice(this.start, i + 1)));
            }
        }
        if (this.depth === 0) this.buffer = "";
        else if (this.start > 0) {
            this.buffer = this.buffer.slice(this.start);
            this.start = 0;
        }
        return done;
    }
}

/** Watches `resource/name` in `namespace` until stop(); kubeconfig names the cluster. */
export function watchObject<T>(kubeconfig: string, resource: string, name: string, namespace: string): ObjectWatch<T> {
    const versions: T[] = [];
    const splitter = new JsonStreamSplitter();
    const child: ChildProcess = spawn("kubectl", ["--kubeconfig", kubeconfig, "get", resource, name, "-n", namespace, "--watch", "-o", "json"], {
        stdio: ["ignore", "pipe", "ignore"],
    });
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
        for (const doc of splitter.push(chunk)) versions.push(doc as T);
    });
    return {
        versions,
        stop: () => {
            child.kill();
        },
    };
}

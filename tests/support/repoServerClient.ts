/**
 * A client of Argo CD's repo-server for the tests: one unary call, `RepoServerService/GenerateManifest`,
 * over plaintext gRPC (HTTP/2 without TLS, as `--disable-tls` serves it) with Node's own http2 and a
 * hand-written protobuf encoding of the few request fields the application controller fills
 * (controller/state.go: ManifestRequest{Repo, Revision, AppLabelKey, AppName, Namespace,
 * ApplicationSource, KustomizeOptions, KubeVersion, ApiVersions, TrackingMethod, HelmOptions,
 * ProjectName, ProjectSourceRepos}; field numbers from reposerver/repository/repository.proto and
 * pkg/apis/application/v1alpha1/generated.proto of v3.6.1). No dependency: the wire format is small.
 */
import * as http2 from "node:http2";
import type { AppSource } from "../../scripts/lib/configRender";

function varint(value: number): Buffer {
    const bytes: number[] = [];
    let v = value;
    while (v > 0x7f) {
        bytes.push((v & 0x7f) | 0x80);
        v = Math.floor(v / 128);
    }
    bytes.push(v);
    return Buffer.from(bytes);
}

const key = (field: number, wire: 0 | 2) => varint(field * 8 + wire);
const bytesField = (field: number, value: Buffer): Buffer => Buffer.concat([key(field, 2), varint(value.length), value]);
const str = (field: number, value: string | undefined): Buffer => (value === undefined || value === "" ? Buffer.alloc(0) : bytesField(field, Buffer.from(value, "utf8")));
const strs = (field: number, values: readonly string[] | undefined): Buffer => Buffer.concat((values ?? []).map((v) => bytesField(field, Buffer.from(v, "utf8"))));
const bool = (field: number, value: boolean | undefined): Buffer => (value ? Buffer.concat([key(field, 0), varint(1)]) : Buffer.alloc(0));
const msg = (field: number, value: Buffer | undefined): Buffer => (value === undefined ? Buffer.alloc(0) : bytesField(field, value));

/** ApplicationSource (generated.proto). */
function encodeSource(s: AppSource): Buffer {
    const h = s.helm;
    const helm = h
        ? Buffer.concat([
              strs(1, h.valueFiles),
              ...(h.parameters ?? []).map((p) => msg(2, Buffer.concat([str(1, p.name), str(2, p.value), bool(3, p.forceString)]))),
              str(3, h.releaseName),
              str(4, h.values),
              bool(8, h.ignoreMissingValueFiles),
              bool(9, h.skipCrds),
              // valuesObject is a RawExtension: { raw (1): the JSON bytes }.
              h.valuesObject === undefined ? Buffer.alloc(0) : msg(10, bytesField(1, Buffer.from(JSON.stringify(h.valuesObject), "utf8"))),
              str(11, h.namespace),
              str(12, h.kubeVersion),
              strs(13, h.apiVersions),
              bool(14, h.skipTests),
              bool(15, h.skipSchemaValidation),
          ])
        : undefined;
    const k = s.kustomize;
    const kustomize = k
        ? Buffer.concat([
              str(1, k.namePrefix),
              str(2, k.nameSuffix),
              strs(3, k.images),
              ...Object.entries(k.commonLabels ?? {}).map(([a, b]) => msg(4, Buffer.concat([str(1, a), str(2, b)]))),
              ...Object.entries(k.commonAnnotations ?? {}).map(([a, b]) => msg(6, Buffer.concat([str(1, a), str(2, b)]))),
              str(9, k.namespace),
          ])
        : undefined;
    const directory = s.directory ? bool(1, s.directory.recurse) : undefined;
    return Buffer.concat([str(1, s.repoURL), str(2, s.path), str(4, s.targetRevision), msg(7, helm), msg(8, kustomize), msg(10, directory)]);
}

export interface ManifestRequest {
    readonly repoURL: string;
    /** A commit SHA reachable from the repository's branches. */
    readonly revision: string;
    readonly appName: string;
    readonly namespace: string;
    readonly project: string;
    readonly source: AppSource;
    readonly kubeVersion?: string;
    readonly apiVersions?: readonly string[];
}

function encodeRequest(r: ManifestRequest): Buffer {
    return Buffer.concat([
        msg(1, Buffer.concat([str(1, r.repoURL), str(11, "git")])),
        str(2, r.revision),
        bool(3, true),
        str(4, "app.kubernetes.io/instance"),
        str(5, r.appName),
        str(8, r.namespace),
        msg(10, encodeSource(r.source)),
        // Present but empty, as the controller sends the default kustomize settings.
        msg(13, Buffer.alloc(0)),
        str(14, r.kubeVersion),
        strs(15, r.apiVersions),
        str(19, "annotation"),
        // helm.valuesFileSchemes' default in argocd-cm.
        msg(21, strs(1, ["https", "http"])),
        strs(24, ["*"]),
        str(25, r.project),
    ]);
}

/** ManifestResponse: manifests (1, repeated JSON strings) and sourceType (6); other fields skipped. */
function decodeResponse(buf: Buffer): { manifests: string[]; sourceType: string } {
    const manifests: string[] = [];
    let sourceType = "";
    let i = 0;
    const readVarint = (): number => {
        let result = 0;
        let shift = 1;
        for (;;) {
            const b = buf[i++];
            result += (b & 0x7f) * shift;
            if (b < 0x80) return result;
            shift *= 128;
        }
    };
    while (i < buf.length) {
        const tag = readVarint();
        const field = Math.floor(tag / 8);
        const wire = tag % 8;
        if (wire === 0) readVarint();
        else if (wire === 2) {
            const len = readVarint();
            const value = buf.subarray(i, i + len);
            i += len;
            if (field === 1) manifests.push(value.toString("utf8"));
            if (field === 6) sourceType = value.toString("utf8");
        } else if (wire === 1) i += 8;
        else if (wire === 5) i += 4;
        else throw new Error(`unexpected protobuf wire type ${wire}`);
    }
    return { manifests, sourceType };
}

/** Calls GenerateManifest; rejects with the repo-server's gRPC status message (what the controller shows as ComparisonError). */
export async function generateManifest(address: string, request: ManifestRequest, timeoutMs = 120_000): Promise<{ manifests: Record<string, unknown>[]; sourceType: string }> {
    const client = http2.connect(`http://${address}`);
    try {
        const body = encodeRequest(request);
        const frame = Buffer.concat([Buffer.from([0]), Buffer.alloc(4), body]);
        frame.writeUInt32BE(body.length, 1);
        const { data, status, message } = await new Promise<{ data: Buffer; status: string; message: string }>((resolve, reject) => {
            const stream = client.request({
                ":method": "POST",
                ":path": "/repository.RepoServerService/GenerateManifest",
                "content-type": "application/grpc",
                te: "trailers",
            });
            const chunks: Buffer[] = [];
            let status = "";
            let message = "";
            const timer = setTimeout(() => {
                stream.close();
                reject(new Error(`GenerateManifest timed out after ${timeoutMs} ms`));
            }, timeoutMs);
            const take = (headers: http2.IncomingHttpHeaders) => {
                if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"]);
                if (headers["grpc-message"] !== undefined) message = decodeURIComponent(String(headers["grpc-message"]));
            };
            stream.on("response", take);
            stream.on("trailers", take);
            stream.on("data", (chunk: Buffer) => chunks.push(chunk));
            stream.on("error", (error) => {
                clearTimeout(timer);
                reject(error);
            });
            stream.on("end", () => {
                clearTimeout(timer);
                resolve({ data: Buffer.concat(chunks), status, message });
            });
            stream.end(frame);
        });
        if (status !== "0") throw new Error(`GenerateManifest: gRPC status ${status}: ${message}`);
        if (data.length < 5) throw new Error("GenerateManifest: empty response");
        const decoded = decodeResponse(data.subarray(5, 5 + data.readUInt32BE(1)));
        return { manifests: decoded.manifests.map((m) => JSON.parse(m) as Record<string, unknown>), sourceType: decoded.sourceType };
    } finally {
        client.close();
    }
}

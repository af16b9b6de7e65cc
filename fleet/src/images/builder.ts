/**
 * `hermes-admin images build`: the base image (from a configured base when it is on this host, else from the host's own
 * Node.js), then the profile runtime and data service images on top, through the Engine API only (image import and the
 * build endpoint), with no registry. Each image carries our managed-by label and a content-hash label; when the hash of
 * what would go in matches the existing image's label, the build is skipped.
 */
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import { createLogger, DriverError, LABELS, type Logger, MANAGED_BY } from "@twilight/core";
import type Docker from "dockerode";
import { dockerClient, engineError, isNotFound } from "../docker/client.js";
import { appTree } from "./app.js";
import {
  APP_TARGETS,
  type AppImageKind,
  BASE_REPO,
  IMAGE_LABELS,
  type ImageKind,
  imageRefs,
  projectVersion,
  REPO_ROOT,
} from "./refs.js";
import { baseRootfs, IMAGE_PATH } from "./rootfs.js";
import { DigestCache, Tree } from "./tree.js";

export { APP_TARGETS, type AppImageKind, BASE_REPO, IMAGE_LABELS, type ImageKind, imageRefs, projectVersion, REPO_ROOT };
export interface BuildImagesOptions {
  root?: string;
  docker?: Docker;
  /** Which app images (default profile and mcp). The base is built whenever an app image needs it. */
  only?: AppImageKind[];
  /** A base image to use when present locally (e.g. node:20-bookworm-slim); default env TWILIGHT_BASE_IMAGE. */
  baseImage?: string;
  /** Build even when the content hash matches. */
  force?: boolean;
  /** Remove our dangling images (old builds) afterwards. Default true. */
  prune?: boolean;
  onProgress?: (line: string) => void;
  log?: Logger;
  /** Repository namespace instead of "twilight" (tests). */
  namespace?: string;
  /** Where file digests are cached between runs (default <root>/ops/.cache/image-digests.json). */
  digestCacheFile?: string;
}

export interface BuiltImage {
  kind: ImageKind;
  ref: string;
  id: string;
  sizeBytes: number;
  contentHash: string;
  skipped: boolean;
  seconds: number;
}

export interface BuildReport {
  version: string;
  nodeVersion: string;
  images: BuiltImage[];
  seconds: number;
}

type ImageInfo = { Id: string; Size: number; Config?: { Labels?: Record<string, string> | null } };

async function inspectImage(docker: Docker, ref: string): Promise<ImageInfo | undefined> {
  try {
    return (await docker.getImage(ref).inspect()) as unknown as ImageInfo;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw engineError(`inspect image ${ref}`, e);
  }
}

/** Read an engine progress stream (import, build) to its end; an `error` item fails the build with the last output. */
function followProgress(docker: Docker, stream: Readable, onLine: (s: string) => void): Promise<void> {
  return new Promise((res, rej) => {
    const tail: string[] = [];
    docker.modem.followProgress(
      stream,
      (err: Error | null, items: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        const failed = err ?? items.find((i) => i.error);
        if (failed) {
          const msg = err ? err.message : ((failed as { error?: string }).error ?? "build failed");
          rej(new DriverError("images", `${msg}\n${tail.join("")}`.trim()));
        } else res();
      },
      (item: { stream?: string; status?: string }) => {
        const s = item.stream ?? (item.status ? `${item.status}\n` : "");
        if (!s) return;
        tail.push(s);
        if (tail.length > 20) tail.shift();
        for (const line of s.split("\n")) if (line.trim()) onLine(line.trimEnd());
      },
    );
  });
}

function labels(kind: ImageKind, version: string, hash: string): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [IMAGE_LABELS.image]: kind,
    [IMAGE_LABELS.version]: version,
    [IMAGE_LABELS.contentHash]: hash,
  };
}

class Builder {
  readonly docker: Docker;
  readonly root: string;
  readonly log: Logger;
  readonly say: (s: string) => void;
  readonly digests: DigestCache;

  constructor(private readonly o: BuildImagesOptions) {
    this.docker = o.docker ?? dockerClient();
    this.root = o.root ?? REPO_ROOT;
    this.log = (o.log ?? createLogger("fleet")).child({ component: "images" });
    this.say = o.onProgress ?? ((s) => this.log.info(s));
    this.digests = new DigestCache(o.digestCacheFile ?? resolve(this.root, "ops", ".cache", "image-digests.json"));
  }

  private async done(kind: ImageKind, ref: string, hash: string, skipped: boolean, t0: number): Promise<BuiltImage> {
    const info = await inspectImage(this.docker, ref);
    if (!info) throw new DriverError("images", `image ${ref} is missing after the build`);
    const seconds = Math.round((performance.now() - t0) / 10) / 100;
    this.say(`${ref}: ${skipped ? "up to date" : "built"} (${(info.Size / 1e6).toFixed(1)} MB, ${seconds}s)`);
    return { kind, ref, id: info.Id, sizeBytes: info.Size, contentHash: hash, skipped, seconds };
  }

  async base(version: string, ref: string): Promise<BuiltImage> {
    const t0 = performance.now();
    const configured = this.o.baseImage ?? process.env.TWILIGHT_BASE_IMAGE;
    if (configured) {
      const from = await inspectImage(this.docker, configured);
      if (from) return this.baseFrom(configured, from.Id, { version, ref, t0 });
      this.say(`base ${configured} is not on this host (no registry is used): building the base from this host's Node.js`);
    }
    const rootfs = await baseRootfs();
    const hash = await rootfs.tree.contentHash(`base:${IMAGE_PATH}`, this.digests);
    const have = await inspectImage(this.docker, ref);
    if (!this.o.force && have?.Config?.Labels?.[IMAGE_LABELS.contentHash] === hash) return this.done("base", ref, hash, true, t0);
    this.say(
      `${ref}: importing a root filesystem of ${rootfs.tree.size} entries (${(rootfs.tree.bytes() / 1e6).toFixed(1)} MB) from this host`,
    );
    const [repo, tag] = splitRef(ref);
    const changes = [
      `ENV PATH=${IMAGE_PATH}`,
      `USER 65534:65534`,
      `CMD ["node"]`,
      ...Object.entries(labels("base", version, hash)).map(([k, v]) => `LABEL ${k}=${v}`),
    ];
    await this.send(
      `import ${ref}`,
      rootfs.tree,
      (tar, abortSignal) =>
        this.docker.importImage(
          tar as unknown as NodeJS.ReadableStream,
          {
            repo,
            tag,
            changes,
            message: "twilight base from the host's Node.js",
            abortSignal,
          } as never,
        ) as unknown as Promise<Readable>,
    );
    return this.done("base", ref, hash, false, t0);
  }

  private async baseFrom(from: string, fromId: string, o: { version: string; ref: string; t0: number }): Promise<BuiltImage> {
    const hash = `from:${fromId}`;
    const have = await inspectImage(this.docker, o.ref);
    if (!this.o.force && have?.Config?.Labels?.[IMAGE_LABELS.contentHash] === hash)
      return this.done("base", o.ref, hash, true, o.t0);
    const ctx = new Tree();
    ctx.add({ type: "data", path: "Dockerfile", mode: 0o644, data: Buffer.from(`FROM ${from}\nUSER 65534:65534\n`) });
    await this.build(ctx, { ref: o.ref, labels: labels("base", o.version, hash) });
    return this.done("base", o.ref, hash, false, o.t0);
  }

  async app(kind: AppImageKind, o: { version: string; ref: string; base: BuiltImage }): Promise<BuiltImage> {
    const t0 = performance.now();
    const target = APP_TARGETS[kind];
    const dockerfile = [
      `FROM ${o.base.ref}`,
      `COPY app/ /app/`,
      `WORKDIR /app`,
      `ENV NODE_ENV=production TWILIGHT_APP_DIR=/app PATH=/app/skill/stock-research/bin:${IMAGE_PATH}`,
      `USER 65534:65534`,
      `EXPOSE ${target.expose}`,
      `ENTRYPOINT ${JSON.stringify(["node", ...(target.nodeFlags ?? []), `/app/${target.main}`])}`,
      ...(target.cmd ? [`CMD ${JSON.stringify(target.cmd)}`] : []),
      "",
    ].join("\n");
    const { tree, packages, unbuilt } = await appTree({
      root: this.root,
      workspaces: target.workspaces,
      extra: target.extra,
      prefix: "app",
    });
    if (unbuilt.length) this.say(`${o.ref}: warning: ${unbuilt.join(", ")} not built (no dist/); copied without it`);
    if (!tree.has(`app/${target.main}`))
      throw new DriverError("images", `${target.main} does not exist: build that workspace first`, { hint: "npx tsc -b" });
    tree.add({ type: "data", path: "Dockerfile", mode: 0o644, data: Buffer.from(dockerfile) });
    const hash = await tree.contentHash(`base:${o.base.id}`, this.digests);
    const have = await inspectImage(this.docker, o.ref);
    if (!this.o.force && have?.Config?.Labels?.[IMAGE_LABELS.contentHash] === hash) return this.done(kind, o.ref, hash, true, t0);
    this.say(`${o.ref}: building (${packages} packages, ${(tree.bytes() / 1e6).toFixed(1)} MB of files)`);
    await this.build(tree, { ref: o.ref, labels: labels(kind, o.version, hash) });
    return this.done(kind, o.ref, hash, false, t0);
  }

  private async build(ctx: Tree, o: { ref: string; labels: Record<string, string> }): Promise<void> {
    await this.send(
      `build ${o.ref}`,
      ctx,
      (tar, abortSignal) =>
        this.docker.buildImage(
          tar as unknown as NodeJS.ReadableStream,
          {
            t: o.ref,
            labels: o.labels,
            rm: true,
            forcerm: true,
            pull: false,
            abortSignal,
          } as never,
        ) as unknown as Promise<Readable>,
    );
  }

  /** Send a tree as a tar request body; a failure while reading files aborts the request and is what gets reported. */
  async send(what: string, tree: Tree, call: (tar: Readable, signal: AbortSignal) => Promise<Readable>): Promise<void> {
    const ac = new AbortController();
    const tar = tree.tar();
    let tarError: Error | undefined;
    tar.on("error", (e: Error) => {
      tarError = e;
      ac.abort();
    });
    try {
      const stream = await call(tar, ac.signal);
      await followProgress(this.docker, stream, (l) => this.log.debug(l));
    } catch (e) {
      if (tarError)
        throw new DriverError("images", `${what}: reading the files failed: ${tarError.message}`, { cause: tarError });
      throw e instanceof DriverError ? e : engineError(what, e);
    }
  }

  async prune(): Promise<void> {
    try {
      await this.docker.pruneImages({ filters: { dangling: ["true"], label: [`${LABELS.managedBy}=${MANAGED_BY}`] } } as never);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "pruning old images failed");
    }
  }
}

function splitRef(ref: string): [string, string] {
  const i = ref.lastIndexOf(":");
  return i > ref.lastIndexOf("/") ? [ref.slice(0, i), ref.slice(i + 1)] : [ref, "latest"];
}

/** Build (or confirm up to date) the base and the requested app images. */
export async function buildImages(o: BuildImagesOptions = {}): Promise<BuildReport> {
  const t0 = performance.now();
  const b = new Builder(o);
  await b.digests.load();
  const version = await projectVersion(b.root);
  const nodeVersion = process.version.replace(/^v/, "");
  const refs = imageRefs(version, nodeVersion, o.namespace);
  const images: BuiltImage[] = [];
  const base = await b.base(version, refs.base);
  images.push(base);
  for (const kind of o.only ?? (["profile", "mcp"] as const)) images.push(await b.app(kind, { version, ref: refs[kind], base }));
  await b.digests.save();
  if (o.prune !== false && images.some((i) => !i.skipped)) await b.prune();
  return { version, nodeVersion, images, seconds: Math.round((performance.now() - t0) / 10) / 100 };
}

/**
 * The base image's root filesystem, made from this host (no registry needed): the running Node.js binary at
 * /usr/local/bin/node (where the official node images have it), the shared libraries `ldd` lists for it and for the
 * few tools operators, tests and the skill's bin/ scripts use through `exec` (sh, env, id, cat, ls, touch, readlink, dirname), /etc/passwd and /etc/group with root and
 * nobody, /etc/nsswitch.conf, CA certificates when present, and /tmp. Host and image share glibc, so native Node modules
 * built on the host (better-sqlite3, DuckDB) run unchanged in the image.
 */
import { access, constants, lstat, readFile, realpath } from "node:fs/promises";
import { join } from "node:path";
import { sharedLibraries } from "./ldd.js";
import { addHostPath, normalMode, Tree } from "./tree.js";

export const NODE_IN_IMAGE = "/usr/local/bin/node";
export const IMAGE_PATH = "/usr/local/bin:/usr/bin:/bin";
/** Host tools copied into the base (found on PATH); missing ones are skipped. */
export const DEFAULT_TOOLS = ["sh", "env", "id", "cat", "ls", "touch", "readlink", "dirname"];

const PASSWD = "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP = "root:x:0:\nnogroup:x:65534:\n";
const NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\n";
const CA_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt"];

async function which(tool: string, path: string): Promise<string | undefined> {
  for (const dir of path.split(":").filter(Boolean)) {
    const p = join(dir, tool);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

export interface BaseRootfsOptions {
  /** Node binary to copy (default: the one running this code). */
  nodeBinary?: string;
  tools?: string[];
  /** PATH used to find the tools on the host. */
  hostPath?: string;
}

export interface BaseRootfs {
  tree: Tree;
  nodeVersion: string;
  /** Host files copied (binaries and libraries), for the report. */
  copied: string[];
}

/** Collect the base root filesystem; also returns the Node version of the binary (from `process.version` when it is ours). */
export async function baseRootfs(opts: BaseRootfsOptions = {}): Promise<BaseRootfs> {
  const node = await realpath(opts.nodeBinary ?? process.execPath);
  const tree = new Tree();
  const nodeStat = await lstat(node);
  tree.add({ type: "file", path: NODE_IN_IMAGE, mode: normalMode(nodeStat.mode), source: node, size: nodeStat.size });

  const toolPaths: string[] = [];
  for (const t of opts.tools ?? DEFAULT_TOOLS) {
    const p = await which(t, opts.hostPath ?? "/usr/bin:/bin");
    if (p) toolPaths.push(p);
  }
  const libs = await sharedLibraries([node, ...toolPaths]);
  for (const p of [...toolPaths, ...libs]) await addHostPath(tree, p);
  // Tools resolve through /usr/bin (and /bin when the host has merged /usr) in the image as on the host.
  for (const d of ["/usr/bin", "/bin"]) {
    try {
      await addHostPath(tree, d);
    } catch {
      // absent on this host
    }
  }

  tree.add({ type: "data", path: "/etc/passwd", mode: 0o644, data: Buffer.from(PASSWD) });
  tree.add({ type: "data", path: "/etc/group", mode: 0o644, data: Buffer.from(GROUP) });
  tree.add({ type: "data", path: "/etc/nsswitch.conf", mode: 0o644, data: Buffer.from(NSSWITCH) });
  for (const ca of CA_BUNDLES) {
    try {
      const data = await readFile(ca);
      tree.add({ type: "data", path: ca, mode: 0o644, data });
    } catch {
      // no CA bundle on this host: Node still has its own built-in store
    }
  }
  tree.add({ type: "dir", path: "/tmp", mode: 0o1777 });
  for (const d of ["/proc", "/sys", "/dev", "/etc", "/root", "/app", "/profile", "/skills"])
    tree.add({ type: "dir", path: d, mode: 0o755 });

  const nodeVersion =
    opts.nodeBinary && (await realpath(opts.nodeBinary)) !== (await realpath(process.execPath))
      ? "custom"
      : process.version.replace(/^v/, "");
  return { tree, nodeVersion, copied: [node, ...toolPaths, ...libs] };
}

/**
 * `exec` into a profile's container (container tier, and a swarm task's container on this node): the profile's uid, its
 * directory, the container's non-secret environment; stdout/stderr demultiplexed; aborting kills the exec'd process.
 */
import type { Readable } from "node:stream";
import { DriverError } from "@twilight/core";
import type Docker from "dockerode";
import { containerEnv, PROFILE_MOUNT } from "./container-spec.js";
import { FrameDemuxer } from "./docker-stream.js";
import type { ExecIO, WorkloadSpec } from "./types.js";

export async function execInContainer(
  docker: Docker,
  containerId: string,
  spec: Pick<WorkloadSpec, "uid" | "gid">,
  argv: string[],
  io: ExecIO,
): Promise<number> {
  const ex = await docker.getContainer(containerId).exec({
    Cmd: argv,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    User: `${spec.uid}:${spec.gid}`,
    WorkingDir: PROFILE_MOUNT,
    Env: containerEnv(),
  });
  const stream = (await ex.start({ hijack: true, stdin: false })) as unknown as Readable;
  const demux = new FrameDemuxer();
  const onAbort = () => {
    void ex.inspect().then((i) => {
      if (i.Running && i.Pid) {
        try {
          process.kill(i.Pid, "SIGTERM");
        } catch {
          // already gone
        }
      }
    });
  };
  io.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const chunk of stream) {
      for (const f of demux.push(chunk as Buffer)) (f.stream === "stdout" ? io.onStdout : io.onStderr)(f.payload);
    }
  } finally {
    io.signal?.removeEventListener("abort", onAbort);
  }
  // The stream ends when the process does; the exit code may need a moment to be recorded.
  for (let i = 0; i < 50; i++) {
    const r = await ex.inspect();
    if (!r.Running) return r.ExitCode ?? -1;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new DriverError("docker", `exec in ${containerId.slice(0, 12)} did not report an exit code`, { retryable: true });
}

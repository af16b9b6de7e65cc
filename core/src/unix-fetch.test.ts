import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { nodeHttpFetch, unixSocketFetch } from "./unix-fetch.js";

/** Echoes what it got; `/sse` streams two events 50 ms apart; `/hang` never answers. */
function handler(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === "/hang") return;
  if (req.url === "/sse") {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("data: one\n\n");
    setTimeout(() => res.end("data: two\n\n"), 50);
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    res.writeHead(201, { "content-type": "application/json", "x-multi": ["a", "b"] });
    res.end(
      JSON.stringify({
        method: req.method,
        url: req.url,
        host: req.headers.host,
        auth: req.headers.authorization,
        body: Buffer.concat(chunks).toString("utf8"),
      }),
    );
  });
}

describe("node:http fetch (TCP and unix socket)", () => {
  const dir = mkdtempSync(join(tmpdir(), "twl-fetch-"));
  const socket = join(dir, "s.sock");
  let tcp: Server;
  let unix: Server;
  let base = "";
  before(async () => {
    tcp = createServer(handler);
    unix = createServer(handler);
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", () => r()));
    await new Promise<void>((r) => unix.listen(socket, () => r()));
    base = `http://127.0.0.1:${(tcp.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const s of [tcp, unix]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, f, url] of [
    ["TCP", () => nodeHttpFetch(), () => `${base}/mcp?x=1`],
    ["unix socket", () => unixSocketFetch(socket), () => "http://data-service.local/mcp?x=1"],
  ] as const) {
    it(`${name}: sends method, path, headers and body; returns status, headers and body`, async () => {
      const res = await f()(url(), { method: "POST", headers: { authorization: "Bearer t" }, body: '{"a":1}' });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get("x-multi"), "a, b");
      const got = (await res.json()) as Record<string, string>;
      assert.equal(got.method, "POST");
      assert.equal(got.url, "/mcp?x=1");
      assert.equal(got.auth, "Bearer t");
      assert.equal(got.body, '{"a":1}');
      assert.equal(got.host, new URL(url()).host);
    });
  }

  it("streams a response body as it arrives (SSE)", async () => {
    const res = await nodeHttpFetch()(`${base}/sse`);
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    const first = await reader.read();
    assert.equal(first.value, "data: one\n\n");
    let rest = "";
    for (let c = await reader.read(); !c.done; c = await reader.read()) rest += c.value;
    assert.equal(rest, "data: two\n\n");
  });

  it("aborts a request on its signal", async () => {
    const t0 = Date.now();
    await assert.rejects(nodeHttpFetch()(`${base}/hang`, { signal: AbortSignal.timeout(100) }));
    assert.ok(Date.now() - t0 < 2_000);
  });

  it("refuses schemes it cannot speak", async () => {
    await assert.rejects(nodeHttpFetch()("ftp://127.0.0.1/x"), /ftp: URLs are not supported/);
  });
});

/**
 * The yardstick for the gateway's overhead: the least a Node.js proxy can do, a pass-through of the request to the
 * upstream (same keep-alive agent settings, no key check, no limits, no metering, no parsing), run as its own process
 * like the gateway. What it adds over a direct call is the cost of one more process hop on this machine; what the
 * gateway adds beyond it is the gateway's own work. Usage: node bare-proxy.js <upstream base URL> (prints its port).
 */
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";

const upstream = new URL(process.argv[2] ?? "");
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const server = createServer((req, res) => {
  const up = request(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: `${upstream.pathname.replace(/\/$/, "")}${(req.url ?? "/").replace(/^\/v1/, "")}`,
      headers: req.headers,
      agent,
    },
    (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    },
  );
  up.on("error", () => {
    res.writeHead(502).end();
  });
  req.pipe(up);
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  agent.destroy();
  process.exit(0);
});

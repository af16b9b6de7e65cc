import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GatewayStatus } from "../gateway-service/index.js";
import type { McpStatus } from "../mcp-service/index.js";
import { dependencyWarnings } from "./dependencies.js";

const mcp = (over: Partial<McpStatus> = {}): McpStatus => ({
  name: "twilight-mcp",
  exists: true,
  running: true,
  url: "http://127.0.0.1:9100",
  health: {
    ok: true,
    httpStatus: 200,
    status: "ok",
    seeding: { state: "ready", days_done: 0, days_total: 0, as_of: "20251231" },
  },
  ...over,
});
const gw = (over: Partial<GatewayStatus> = {}): GatewayStatus => ({
  running: true,
  url: "http://127.0.0.1:9200/v1",
  health: { ok: true },
  keys: 2,
  upstream_configured: true,
  ...over,
});

describe("platform dependency warnings (spawn and start warn, never fail)", () => {
  it("nothing to say when the data service is ready and the gateway (if used) answers", () => {
    assert.deepEqual(dependencyWarnings({ mcp: mcp() }), []);
    const behind = mcp({ health: { ok: false, httpStatus: 200, status: "degraded", open_days_behind: 230 } });
    assert.deepEqual(dependencyWarnings({ mcp: behind }), [], "behind is not down: doctor reports the lag");
    assert.deepEqual(dependencyWarnings({ mcp: mcp(), gateway: gw() }), []);
  });

  it("each way the data service can be down names the command that fixes it", () => {
    const cases: Array<[Parameters<typeof dependencyWarnings>[0]["mcp"], RegExp, RegExp]> = [
      [{ error: "Docker Engine is not available" }, /cannot be checked \(Docker Engine is not available\)/, /hermes-admin up/],
      [
        mcp({ exists: false, running: false, health: null }),
        /is not created; .*tools will fail/,
        /hermes-admin up \(or hermes-admin mcp up\)/,
      ],
      [mcp({ running: false, health: null }), /is stopped/, /mcp up/],
      [mcp({ health: { ok: false, error: "ECONNREFUSED" } }), /does not answer its health check \(ECONNREFUSED\)/, /doctor/],
      [
        mcp({ health: { ok: false, httpStatus: 503, status: "error" } }),
        /does not answer its health check \(HTTP 503\)/,
        /doctor/,
      ],
      [
        mcp({
          health: { ok: true, httpStatus: 200, seeding: { state: "seeding", days_done: 40, days_total: 480, as_of: "20240305" } },
        }),
        /still seeding its warehouse \(40 of 480 days, data as of 20240305\)/,
        /mcp status/,
      ],
    ];
    for (const [m, message, hint] of cases) {
      const [w, ...more] = dependencyWarnings({ mcp: m });
      assert.equal(more.length, 0);
      assert.equal(w?.service, "data-service");
      assert.match(w?.message ?? "", message);
      assert.match(w?.hint ?? "", hint);
    }
  });

  it("the model gateway, when profiles use it: not running, not answering, not checkable", () => {
    assert.match(dependencyWarnings({ mcp: mcp(), gateway: gw({ running: false, health: null }) })[0]?.hint ?? "", /gateway up/);
    assert.match(
      dependencyWarnings({ mcp: mcp(), gateway: gw({ health: { ok: false, error: "timeout" } }) })[0]?.message ?? "",
      /does not answer its health check \(timeout\)/,
    );
    const both = dependencyWarnings({ mcp: { error: "x" }, gateway: { error: "EACCES" } });
    assert.deepEqual(
      both.map((w) => w.service),
      ["data-service", "model-gateway"],
    );
  });
});

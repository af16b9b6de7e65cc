import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseArgs, run, UsageError } from "./cli.js";

describe("stock-research commands: arguments", () => {
  it("parses fetch_price with an optional date and --json, normalising the code", () => {
    assert.deepEqual(parseArgs("fetch_price", ["600519"]), { command: "fetch_price", code: "600519.SH", json: false });
    assert.deepEqual(parseArgs("fetch_price", ["sz000858", "--date", "20241231", "--json"]), {
      command: "fetch_price",
      code: "000858.SZ",
      date: "20241231",
      json: true,
    });
  });

  it("requires --period for fetch_fundamentals", () => {
    assert.deepEqual(parseArgs("fetch_fundamentals", ["000858", "--period", "20241231"]), {
      command: "fetch_fundamentals",
      code: "000858.SZ",
      period: "20241231",
      json: false,
    });
    assert.throws(() => parseArgs("fetch_fundamentals", ["000858"]), /--period is required/);
  });

  const bad: [string, string[], RegExp][] = [
    ["fetch_price", [], /stock code is required/],
    ["fetch_price", ["abc"], /not a valid A-share code/],
    ["fetch_price", ["600519", "000858"], /one stock code only/],
    ["fetch_price", ["600519", "--date"], /--date needs a date/],
    ["fetch_price", ["600519", "--date", "2024-12-31"], /--date needs a date/],
    ["fetch_price", ["600519", "--period", "20241231"], /unknown option --period/],
    ["fetch_quotes", ["600519"], /unknown command/],
  ];
  for (const [cmd, args, re] of bad)
    it(`refuses ${cmd} ${args.join(" ")}`, () => {
      assert.throws(
        () => parseArgs(cmd, args),
        (e: unknown) => e instanceof UsageError && re.test((e as Error).message),
      );
    });

  it("run() exits 2 on usage errors and 3 when there is no profile, printing nothing on stdout", async () => {
    const sink = () => {
      let text = "";
      return {
        write: (s: string) => {
          text += s;
        },
        text: () => text,
      };
    };
    const out = sink();
    const err = sink();
    const io = { out, err };
    assert.equal(await run("fetch_price", [], io), 2);
    const home = process.env.HERMES_HOME;
    process.env.HERMES_HOME = "/nonexistent/profile";
    try {
      assert.equal(await run("fetch_price", ["600519"], io), 3);
    } finally {
      if (home === undefined) delete process.env.HERMES_HOME;
      else process.env.HERMES_HOME = home;
    }
    assert.equal(out.text(), "");
    assert.match(err.text(), /no config\.yaml in \/nonexistent\/profile/);
  });
});

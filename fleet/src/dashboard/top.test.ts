import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderTop } from "./top.js";
import { buildView, type ProfileJson } from "./view-model.js";

const p = (name: string, over: Partial<ProfileJson> = {}): ProfileJson => ({
  name,
  tier: "prefab",
  status: "running",
  desired_state: "running",
  restart_count: 1,
  last_error: null,
  plan: "pro",
  runtime: { running: true, uptime_s: 61, cpu_percent: 2, memory_bytes: 50 * 1024 * 1024 },
  ...over,
});

describe("hermes-admin top renderer", () => {
  const view = buildView([p("ok-1"), p("bad-1", { status: "error", last_error: "exited with code 1\u001b[2J" })]);

  it("prints the summary, a header and one line per profile, worst first, within the width", () => {
    const text = renderTop(view, { width: 160 });
    const lines = text.trimEnd().split("\n");
    assert.equal(lines[0], "1 of 2 profiles running; 1 down.");
    assert.match(lines[2] ?? "", /^PROFILE\s+TIER\s+STATUS\s+PROBLEMS\s+UPTIME\s+RST/);
    assert.match(lines[3] ?? "", /^bad-1\s+prefab\s+error\s+down\s+1m 1s\s+1 .* exited with code 1/);
    assert.match(lines[4] ?? "", /^ok-1\s+prefab\s+running\s+1m 1s/);
    for (const l of lines) assert.ok(l.length <= 160, l);
    assert.match(renderTop(view, { width: 135 }), /exited wi…\n/, "the last column is cut to the width");
    assert.doesNotMatch(text, /\u001b/, "no escape codes without colour, even from an error message");
  });

  it("colours problem rows only when asked, and truncates to maxRows", () => {
    const colored = renderTop(view, { color: true });
    assert.match(colored, /\u001b\[31mbad-1/);
    assert.ok(
      colored.split("\n").some((l) => l.startsWith("ok-1")),
      "a fine row is not coloured",
    );
    const cut = renderTop(view, { maxRows: 1 });
    assert.match(cut, /… 1 more/);
    assert.doesNotMatch(cut, /ok-1/);
  });
});

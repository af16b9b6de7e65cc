import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { validateSkillText } from "./skill-manifest.js";
import { REPO } from "./testing/harness.js";

const good = `---
name: my-skill
description: Does a thing.
version: 1.0.0
platforms: [linux]
required_environment_variables:
  - name: SOME_TOKEN
    prompt: a token
metadata:
  hermes:
    tags: [a, b]
    category: research
---
# Body
`;

describe("SKILL.md frontmatter validation", () => {
  it("accepts a complete manifest and reads its category", () => {
    const r = validateSkillText(good);
    assert.ok(r.ok);
    assert.deepEqual([r.ok && r.name, r.ok && r.version, r.ok && r.category], ["my-skill", "1.0.0", "research"]);
  });

  it("accepts the bundled stock-research skill", () => {
    const r = validateSkillText(readFileSync(join(REPO, "skill/stock-research/SKILL.md"), "utf8"));
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.ok && r.category, "research");
  });

  const bad: [string, string, RegExp][] = [
    ["no frontmatter", "# just a body\n", /frontmatter block/],
    ["a bad name", good.replace("name: my-skill", "name: ../evil"), /^name:/],
    ["no description", good.replace("description: Does a thing.\n", ""), /^description:/],
    ["a bad version", good.replace("version: 1.0.0", "version: one"), /^version:/],
    ["an unknown platform", good.replace("[linux]", "[amiga]"), /^platforms\.0:/],
    ["a bad env var", good.replace("SOME_TOKEN", "some-token"), /required_environment_variables\.0/],
    ["a bad category", good.replace("category: research", "category: Re/search"), /metadata\.hermes\.category/],
  ];
  for (const [what, text, re] of bad) {
    it(`refuses ${what}`, () => {
      const r = validateSkillText(text);
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.errors.some((e) => re.test(e)), JSON.stringify(r));
    });
  }
});

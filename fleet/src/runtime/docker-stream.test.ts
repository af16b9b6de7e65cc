import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeFrame, FrameDemuxer, LineSplitter, LogLineDecoder } from "./docker-stream.js";

test("demuxes frames split at every byte boundary", () => {
  const wire = Buffer.concat([
    encodeFrame("stdout", "hello "),
    encodeFrame("stderr", "oops\n"),
    encodeFrame("stdout", "world\n"),
  ]);
  for (let cut = 1; cut < wire.length; cut++) {
    const d = new FrameDemuxer();
    const frames = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
    assert.deepEqual(
      frames.map((f) => [f.stream, f.payload.toString()]),
      [
        ["stdout", "hello "],
        ["stderr", "oops\n"],
        ["stdout", "world\n"],
      ],
      `cut at ${cut}`,
    );
    assert.equal(d.pending, 0);
  }
});

test("an incomplete frame stays pending; stdin frames are dropped", () => {
  const d = new FrameDemuxer();
  const stdin = Buffer.from(encodeFrame("stdout", "x"));
  stdin[0] = 0;
  assert.deepEqual(d.push(stdin), []);
  assert.deepEqual(d.push(encodeFrame("stdout", "abcdef").subarray(0, 10)), []);
  assert.equal(d.pending, 10);
});

test("lines: partial lines are kept per stream, CRLF is trimmed, flush returns the tail", () => {
  const dec = new LogLineDecoder();
  const out = [
    ...dec.push(encodeFrame("stdout", "one\r\ntw")),
    ...dec.push(encodeFrame("stderr", "err-a")),
    ...dec.push(encodeFrame("stdout", "o\nthree")),
    ...dec.push(encodeFrame("stderr", "\n")),
    ...dec.flush(),
  ];
  assert.deepEqual(out, [
    { stream: "stdout", line: "one" },
    { stream: "stdout", line: "two" },
    { stream: "stderr", line: "err-a" },
    { stream: "stdout", line: "three" },
  ]);
});

test("a UTF-8 character split across frames is decoded whole", () => {
  const s = new LineSplitter();
  const bytes = Buffer.from("贵州茅台\n");
  assert.deepEqual([...s.push(bytes.subarray(0, 4)), ...s.push(bytes.subarray(4))], ["贵州茅台"]);
  assert.deepEqual(s.flush(), []);
});

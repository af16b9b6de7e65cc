import assert from "node:assert/strict";
import { test } from "node:test";
import { parseLdd } from "./ldd.js";

test("parses ldd output: libraries and the interpreter, no vDSO, no duplicates", () => {
  const out = `	linux-vdso.so.1 (0x00007ffd1d5f2000)
	libdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f2093999000)
	libstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f2093600000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f209341e000)
	libdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f2093999000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f20939b1000)
`;
  assert.deepEqual(parseLdd(out), [
    "/lib/x86_64-linux-gnu/libdl.so.2",
    "/lib/x86_64-linux-gnu/libstdc++.so.6",
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib64/ld-linux-x86-64.so.2",
  ]);
});

test("a missing library is an error, not a silently broken image", () => {
  assert.throws(() => parseLdd("\tlibfoo.so.1 => not found\n"), /missing on this host/);
});

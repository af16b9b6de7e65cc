import assert from "node:assert/strict";
import { test } from "node:test";
import { loopbackListenerUids, parseProcNetTcp, squatter } from "./sockets.js";

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:4A65 00000000:0000 0A 00000000:00000000 00:00000000 00000000 30001        0 1 1 0000000000000000 100 0 0 10 0
   1: 00000000:4A66 00000000:0000 0A 00000000:00000000 00:00000000 00000000 30002        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:4A65 0100007F:C350 01 00000000:00000000 00:00000000 00000000 30009        0 3 1 0000000000000000 100 0 0 10 0
   3: 0200007F:4A67 00000000:0000 0A 00000000:00000000 00:00000000 00000000 30003        0 4 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:4A65 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 30004        0 5 1 0000000000000000 100 0 0 10 0
`;
const read = (p: string) => (p.endsWith("6") ? TCP6 : TCP);

test("listening sockets are parsed with their port and uid; established ones are ignored", () => {
  const l = parseProcNetTcp(TCP);
  assert.deepEqual(
    l.map((x) => [x.address, x.port, x.uid]),
    [
      ["0100007F", 0x4a65, 30001],
      ["00000000", 0x4a66, 30002],
      ["0200007F", 0x4a67, 30003],
    ],
  );
});

test("every listener a 127.0.0.1 connection could reach counts, wildcard and IPv6 included; 127.0.0.2 does not", () => {
  assert.deepEqual(loopbackListenerUids(0x4a65, read).sort(), [30001, 30004]);
  assert.deepEqual(loopbackListenerUids(0x4a66, read), [30002]);
  assert.deepEqual(loopbackListenerUids(0x4a67, read), []);
});

test("a squatter is named; the profile's own listener is fine", () => {
  assert.equal(squatter(0x4a66, 30002, read), undefined);
  assert.match(squatter(0x4a65, 30001, read) ?? "", /held by uid 30004, not the profile's uid 30001/);
  assert.equal(squatter(0x4a67, 1, read), undefined, "nothing listens: not a squatter (the probe fails by itself)");
});

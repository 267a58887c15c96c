// Reconnects: the node stops (cleanly, then with SIGKILL) and starts again
// on the same data dir and port while the client publishes and consumes.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { CarrierError, type Client, type Subscription, connect } from "../src/node.js";
import { Server, eventually, freePort, within } from "./server.js";

let server: Server | undefined;
let c: Client | undefined;

after(async () => {
  await c?.close();
  await server?.destroy();
});

async function next(s: Subscription) {
  const r = await within(`a delivery from ${s.queue}${s.group ? ` group ${s.group}` : ""}`, 20000, s.next());
  assert.equal(r.done, false, `the subscription ended (${s.error})`);
  return r.value!;
}

test("publishes are re-sent with their ids and subscriptions resume after the node restarts", async () => {
  server = await Server.start();
  const nobody = `127.0.0.1:${await freePort()}`; // nothing listens there: the client moves on
  const states: string[] = [];
  c = await connect([nobody, server.url], {
    reconnectMin: 20,
    reconnectMax: 300,
    dialTimeout: 2000,
    onState: (s) => states.push(s),
  });
  const tail = await c.subscribe("r", { from: "first" });
  const group = await c.subscribe("r", { group: "g", ackWait: "60s" });
  await c.publish("r", { id: "r-1", data: 1 });
  await c.publish("r", { id: "r-2", data: 2 });
  assert.deepEqual([(await next(tail)).seq, (await next(tail)).seq], [1, 2]);
  const g1 = await next(group);
  const g2 = await next(group);
  assert.deepEqual([g1.seq, g2.seq], [1, 2]);
  await g1.ack(); // g2 stays unacked: the group must deliver it again

  // A clean stop (close 1001): a publish made while the node is away waits for it.
  await server.stop("SIGTERM");
  await eventually("the client sees the loss", 10000, () => (c!.connected ? undefined : true));
  const p3 = c.publish("r", { id: "r-3", data: 3 });
  const stale = await g2.ack().catch((e: unknown) => e);
  assert.ok(stale instanceof CarrierError && stale.code === "stale_delivery", `ack after the loss: ${stale}`);
  await server.start();
  assert.deepEqual(await within("publish r-3 confirmed", 20000, p3), { seq: 3, msgId: "r-3", duplicate: false });

  // The tail resumes after the last seq it delivered; the group rejoins.
  assert.equal((await next(tail)).seq, 3);
  const again = [await next(group), await next(group)].sort((a, b) => a.seq - b.seq);
  assert.deepEqual(again.map((d) => [d.seq, d.attempt]), [[2, 2], [3, 1]]);
  for (const d of again) await d.ack();

  // A crash with a publish on the wire: stored or not, it is re-sent with its
  // id and stored exactly once.
  const p4 = c.publish("r", { id: "r-4", data: 4 });
  await server.stop("SIGKILL");
  await server.start();
  const r4 = await within("publish r-4 confirmed", 20000, p4);
  assert.deepEqual([r4.seq, r4.msgId], [4, "r-4"]);
  assert.equal((await next(tail)).seq, 4);
  assert.deepEqual([(await next(group)).seq], [4]);

  const stored = await server.messages("r");
  assert.deepEqual(stored.map((m) => [m.seq, m.msgId]), [[1, "r-1"], [2, "r-2"], [3, "r-3"], [4, "r-4"]]);
  assert.deepEqual(states.filter((s) => s === "connected").length, 3, `states: ${states.join(" ")}`);
});

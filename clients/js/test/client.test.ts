// The client against one real `carrier serve`: publish, dedup, batches,
// groups with ack and nack, tails from a seq, typed errors, close.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CarrierError, type Client, type Subscription, backoff, connect, webSocketURL } from "../src/node.js";
import { Server, eventually, within } from "./server.js";

let server: Server;
const clients: Client[] = [];

before(async () => {
  server = await Server.start();
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.destroy();
});

async function client(): Promise<Client> {
  const c = await connect([server.url]);
  clients.push(c);
  return c;
}

/** The next delivery of s, within 10 s. */
async function next(s: Subscription) {
  const r = await within(`a delivery from ${s.queue}`, 10000, s.next());
  assert.equal(r.done, false, `${s.queue}: the subscription ended (${s.error})`);
  return r.value!;
}

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<CarrierError> {
  const e = await p.then(
    () => assert.fail(`resolved, want a CarrierError ${code}`),
    (e: unknown) => e,
  );
  assert.ok(e instanceof CarrierError, `got ${e}, want a CarrierError`);
  assert.equal(e.code, code, e.message);
  return e;
}

describe("publish", () => {
  test("resolves with the seq after the confirmation, with a generated id", async () => {
    const c = await client();
    const a = await c.publish("pub", { event: "placed", data: { order: 1 } });
    const b = await c.publish("pub", { event: "placed", data: { order: 2 } });
    assert.equal(a.seq, 1);
    assert.equal(b.seq, 2);
    assert.match(a.msgId, /^[0-9a-f]{32}$/);
    assert.notEqual(a.msgId, b.msgId);
    assert.equal(a.duplicate, false);
    const stored = await server.messages("pub");
    assert.deepEqual(stored.map((m) => [m.seq, m.msgId, m.data]), [[1, a.msgId, { order: 1 }], [2, b.msgId, { order: 2 }]]);
  });

  test("the same id twice stores one copy and says duplicate", async () => {
    const c = await client();
    const first = await c.publish("dedup", { id: "order-42", data: 42 });
    const again = await c.publish("dedup", { id: "order-42", data: 42 });
    assert.deepEqual(first, { seq: 1, msgId: "order-42", duplicate: false });
    assert.deepEqual(again, { seq: 1, msgId: "order-42", duplicate: true });
    assert.equal((await server.messages("dedup")).length, 1);
  });

  test("a batch resolves with one result per message, in order", async () => {
    const c = await client();
    const rs = await c.publishBatch("batch", [
      { event: "a", data: 1 },
      { event: "b", data: 2, id: "b-1", headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } },
      { event: "c", binary: new Uint8Array([0, 1, 254, 255]) },
    ]);
    assert.deepEqual(rs.map((r) => [r.seq, r.duplicate, r.error]), [[1, false, undefined], [2, false, undefined], [3, false, undefined]]);
    assert.equal(rs[1]!.msgId, "b-1");
    const tail = await c.subscribe("batch", { from: "first" });
    const got = [await next(tail), await next(tail), await next(tail)];
    assert.deepEqual(got.map((d) => [d.seq, d.event]), [[1, "a"], [2, "b"], [3, "c"]]);
    assert.equal(got[1]!.headers.traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assert.deepEqual(got[2]!.binary, new Uint8Array([0, 1, 254, 255]));
    await tail.unsubscribe();
  });
});

describe("groups", () => {
  test("deliver, ack, and redeliver after a nack with a higher attempt", async () => {
    const c = await client();
    await c.publish("jobs", { event: "job", data: 1 });
    await c.publish("jobs", { event: "job", data: 2 });
    const sub = await c.subscribe("jobs", { group: "workers", ackWait: "30s" });
    const d1 = await next(sub);
    const d2 = await next(sub);
    assert.deepEqual([d1.seq, d1.attempt, d1.data, d1.group], [1, 1, 1, "workers"]);
    assert.deepEqual([d2.seq, d2.attempt], [2, 1]);
    await d2.ack();
    await d1.nack();
    const again = await next(sub);
    assert.deepEqual([again.seq, again.attempt], [1, 2]);
    await again.ack();
    const g = await eventually("group settled", 5000, async () => {
      const g = await server.get(`/v1/queues/jobs/groups/workers`);
      return g.pending === 0 && g.unacked === 0 ? g : undefined;
    });
    assert.equal(g.members, 1);
    // acking twice: the server no longer awaits it
    const e = await rejectsWithCode(again.ack(), "not_pending");
    assert.deepEqual(e.seqs, [1]);
    await sub.unsubscribe();
  });

  test("leaving the for-await loop unsubscribes", async () => {
    const c = await client();
    await c.publish("loop", { data: "x" });
    const sub = await c.subscribe("loop", { group: "g" });
    for await (const d of sub) {
      await d.ack();
      break;
    }
    assert.equal(sub.ended, true);
    await eventually("member gone", 5000, async () => ((await server.get(`/v1/queues/loop/groups/g`)).members === 0 ? true : undefined));
  });
});

describe("tails", () => {
  test("from a seq: replay, then live, in seq order", async () => {
    const c = await client();
    for (let i = 1; i <= 5; i++) await c.publish("tail", { data: i });
    const sub = await c.subscribe("tail", { from: 3 });
    assert.deepEqual([(await next(sub)).seq, (await next(sub)).seq, (await next(sub)).seq], [3, 4, 5]);
    await c.publish("tail", { data: 6 });
    const live = await next(sub);
    assert.deepEqual([live.seq, live.data, live.attempt], [6, 6, 1]);
    await assert.rejects(live.ack(), TypeError);
    await sub.unsubscribe();
    assert.deepEqual(await sub.next(), { value: undefined, done: true });
  });
});

describe("errors", () => {
  test("a bad request rejects with a CarrierError carrying the server's code", async () => {
    const c = await client();
    const e = await rejectsWithCode(c.subscribe("-bad", {}), "bad_name");
    assert.equal(e.retryable, false);
    await rejectsWithCode(c.publish("-bad", { data: 1 }), "bad_name");
    await rejectsWithCode(c.subscribe("errs", { from: 0 }), "bad_request");
    await rejectsWithCode(c.publish("errs", { id: "x".repeat(257), data: 1 }), "bad_request");
    // the connection is still good
    assert.equal((await c.publish("errs", { data: 1 })).seq, 1);
  });

  test("server URLs as users write them", () => {
    assert.equal(webSocketURL("127.0.0.1:7420"), "ws://127.0.0.1:7420/v1/ws");
    assert.equal(webSocketURL("http://h:1"), "ws://h:1/v1/ws");
    assert.equal(webSocketURL("https://h/"), "wss://h/v1/ws");
    assert.equal(webSocketURL("ws://h:1/custom/ws"), "ws://h:1/custom/ws");
    assert.throws(() => webSocketURL("ftp://h"), TypeError);
  });

  test("backoff doubles from reconnectMin up to reconnectMax, jittered in [d/2, d]", () => {
    const o = { reconnectMin: 100, reconnectMax: 1000 };
    assert.deepEqual([0, 1, 2, 3, 4, 10].map((n) => backoff(o, n, () => 1)), [100, 200, 400, 800, 1000, 1000]);
    assert.deepEqual([0, 3, 10].map((n) => backoff(o, n, () => 0)), [50, 400, 500]);
  });

  test("connect to nothing rejects with not_connected", async () => {
    await rejectsWithCode(connect(["127.0.0.1:1"], { dialTimeout: 2000 }), "not_connected");
  });
});

describe("close", () => {
  test("ends iterations, fails what waits, refuses what comes after", async () => {
    const c = await connect([server.url]);
    const sub = await c.subscribe("closing", { group: "g" });
    const waiting = sub.next();
    await c.close();
    assert.deepEqual(await waiting, { value: undefined, done: true });
    assert.equal(c.connected, false);
    await rejectsWithCode(c.publish("closing", { data: 1 }), "closed");
    await rejectsWithCode(c.subscribe("closing"), "closed");
    await c.close(); // twice is fine
    await eventually("member gone", 5000, async () => ((await server.get(`/v1/queues/closing/groups/g`)).members === 0 ? true : undefined));
  });
});

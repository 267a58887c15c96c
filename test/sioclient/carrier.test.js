// The real socket.io-client against a real single-node `carrier serve`:
// both transport setups, publish with ack, deliveries and their acks,
// groups and tails, event filters, auto-ack, binary, errors, and
// connection-state recovery across a restart of the node.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { io } from "socket.io-client";
import { Carrier, eventually, within } from "./server.js";

const T = 20000; // every wait: conditions hold in milliseconds; margin for a loaded machine

let carrier;
let sockets = [];
let queues = 0;

before(async () => {
  carrier = await Carrier.start();
});
after(async () => {
  await carrier.destroy();
});
afterEach(() => {
  for (const s of sockets) s.disconnect();
  sockets = [];
});

/** A namespace (a queue) no other test uses. */
function freshNamespace(name) {
  queues++;
  return `/${name}-${queues}`;
}

/** Opens a socket and waits for its CONNECT reply. */
function open(nsp, opts = {}) {
  const s = io(carrier.url + nsp, { reconnectionDelay: 100, reconnectionDelayMax: 500, ...opts });
  sockets.push(s);
  return within(`connect ${nsp}`, T, new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  }));
}

/** Resolves with the arguments of the socket's next event. */
function next(s, event) {
  return within(`event ${event}`, T, new Promise((resolve) => s.once(event, (...args) => resolve(args))));
}

/** Collects the arguments of every event of that name. */
function collect(s, event) {
  const got = [];
  s.on(event, (...args) => got.push(args));
  return got;
}

/** Deliveries of the group not acked yet. */
async function unacked(queue, group) {
  return (await carrier.get(`/v1/queues/${queue}/groups/${group}`)).unacked;
}

for (const [name, transports] of [
  ["default options (polling, then the upgrade)", undefined],
  ["transports: [\"websocket\"]", ["websocket"]],
  ["transports: [\"polling\"]", ["polling"]],
]) {
  describe(name, () => {
    const opts = transports ? { transports } : {};

    test("publish with ack, receive, ack", async () => {
      const nsp = freshNamespace("orders");
      const vendor = await open(nsp, { ...opts, auth: { group: "vendors" } });
      const tail = await open(nsp, opts);
      const driver = await open(nsp, opts);
      const delivered = next(vendor, "pickup");
      const tailed = next(tail, "pickup");
      assert.deepEqual(await within("emit ack", T, driver.emitWithAck("pickup", { order: 1 })), { seq: 1 });
      const args = await delivered;
      assert.deepEqual(args.slice(0, 2), [{ order: 1 }, "1"]);
      assert.equal(typeof args[2], "function", "a group delivery carries an ack callback");
      assert.equal(await unacked(nsp.slice(1), "vendors"), 1);
      args[2]();
      await eventually("the ack applied", T, async () => ((await unacked(nsp.slice(1), "vendors")) === 0 ? true : undefined));
      assert.deepEqual(await tailed, [{ order: 1 }, "1"], "a tail delivery: the args and the offset, no ack");
      if (!transports) {
        await eventually("upgraded to websocket", T, () =>
          vendor.io.engine.transport.name === "websocket" && driver.io.engine.transport.name === "websocket" ? true : undefined);
      }
    });

    test("binary round trip", async () => {
      const nsp = freshNamespace("files");
      const tail = await open(nsp, opts);
      const driver = await open(nsp, opts);
      const got = next(tail, "file");
      const bytes = Buffer.from([0, 1, 2, 254, 255]);
      const res = await within("emit ack", T, driver.emitWithAck("file", bytes, { name: "a.bin", thumb: Buffer.from("hi") }));
      assert.equal(res.seq, 1);
      const [b, meta, offset] = await got;
      assert.ok(Buffer.isBuffer(b) && b.equals(bytes), `attachment ${b?.toString("hex")}`);
      assert.equal(meta.name, "a.bin");
      assert.ok(Buffer.isBuffer(meta.thumb) && meta.thumb.toString() === "hi");
      assert.equal(offset, "1");
    });
  });
}

test("a group's members share its messages; what a member left unacked goes to another", async () => {
  const nsp = freshNamespace("jobs");
  const a = await open(nsp, { auth: { group: "workers", maxInFlight: 2 } });
  const b = await open(nsp, { auth: { group: "workers" } });
  const gotA = collect(a, "job");
  const gotB = collect(b, "job");
  // a holds its jobs without acking them (2 at most: the group's maxInFlight); b acks everything.
  b.on("job", (_n, _offset, ack) => ack());
  const driver = await open(nsp);
  for (let i = 1; i <= 6; i++) await within("emit", T, driver.emitWithAck("job", i));
  await eventually("the jobs shared", T, () => (gotA.length === 2 && gotB.length === 4 ? true : undefined));
  const held = gotA.map((args) => args[0]);
  a.disconnect();
  await eventually("a's jobs redelivered to b", T, () => (gotB.length === 6 ? true : undefined));
  assert.deepEqual(gotB.slice(4).map((args) => args[0]).sort(), held.sort());
  assert.deepEqual(gotB.map((args) => args[0]).sort(), [1, 2, 3, 4, 5, 6]);
});

test("events filter and autoAck", async () => {
  const nsp = freshNamespace("mixed");
  const tail = await open(nsp, { auth: { events: ["keep"] } });
  const member = await open(nsp, { auth: { group: "g", events: ["keep"], autoAck: true } });
  const tailGot = collect(tail, "keep");
  const tailSkipped = collect(tail, "skip");
  const memberGot = collect(member, "keep");
  const driver = await open(nsp);
  for (const ev of ["skip", "keep", "skip", "keep"]) await within("emit", T, driver.emitWithAck(ev, ev));
  await eventually("filtered deliveries", T, () => (tailGot.length === 2 && memberGot.length === 2 ? true : undefined));
  assert.equal(tailSkipped.length, 0);
  for (const args of memberGot) assert.equal(typeof args.at(-1), "string", "autoAck deliveries carry no ack callback");
  await eventually("auto-acked and filtered out: nothing pending", T, async () =>
    ((await unacked(nsp.slice(1), "g")) === 0 ? true : undefined));
});

test("failures: the ack carries Carrier's code; without an ack, an error event", async () => {
  const nsp = freshNamespace("errors");
  const s = await open(nsp);
  const res = await within("emit ack", T, s.emitWithAck("x".repeat(300), 1));
  assert.equal(res.code, "bad_request");
  const err = next(s, "error");
  s.emit("y".repeat(300), 1);
  const [e] = await err;
  assert.equal(e.code, "bad_request");
  const bad = io(carrier.url + "/no%20such", { reconnection: false });
  sockets.push(bad);
  const ce = await within("connect_error", T, new Promise((resolve) => bad.once("connect_error", resolve)));
  assert.equal(ce.data.code, "bad_name");
});

test("connection-state recovery across a restart of the node", async () => {
  const nsp = freshNamespace("news");
  const reader = await open(nsp);
  const quiet = await open(nsp); // never receives an event before its reconnect
  quiet.disconnect();
  const member = await open(nsp, { auth: { group: "desk" } });
  member.on("story", (_s, _o, ack) => ack());
  const memberFirst = next(member, "story");
  const driver = await open(nsp);
  const first = next(reader, "story");
  await within("emit", T, driver.emitWithAck("story", "s1"));
  assert.deepEqual(await first, ["s1", "1"]);
  assert.equal(reader.recovered, false);
  await memberFirst;
  // The member's ack is applied before it goes (an ack lost with the node
  // would be redelivered: at least once).
  const acked = async () => ((await unacked(nsp.slice(1), "desk")) === 0 ? true : undefined);
  await eventually("the member's ack applied", T, acked);

  for (let round = 1; round <= 3; round++) { // many reconnects in a row
    reader.disconnect();
    member.disconnect();
    driver.disconnect();
    await carrier.stop("SIGKILL");
    await carrier.start();
    const writer = await open(nsp);
    const sent = [`s${2 * round}`, `s${2 * round + 1}`];
    for (const story of sent) await within("emit", T, writer.emitWithAck("story", story));
    writer.disconnect();
    const replay = collect(reader, "story");
    const memberReplay = collect(member, "story");
    reader.connect();
    member.connect();
    await eventually(`round ${round}: recovered and replayed`, T, () => {
      if (reader.connected && replay.length === 2 && memberReplay.length === 2) return true;
      throw new Error(`reader connected ${reader.connected}, replayed ${JSON.stringify(replay)}; member connected ${member.connected}, replayed ${JSON.stringify(memberReplay)}`);
    });
    assert.equal(reader.recovered, true, `round ${round}: the tail recovered`);
    assert.equal(member.recovered, true, `round ${round}: the member recovered`);
    assert.deepEqual(replay.map((a) => a[0]), sent, `round ${round}: exactly the missed events, in order`);
    assert.deepEqual(memberReplay.map((a) => a[0]), sent);
    reader.off("story");
    member.off("story");
    member.on("story", (_s, _o, ack) => ack());
    for (const args of memberReplay) args[2]();
    await eventually(`round ${round}: the member's acks applied`, T, acked);
    driver.connect();
  }
  const quietReplay = collect(quiet, "story");
  quiet.connect();
  await eventually("the quiet socket recovered", T, () => (quiet.connected && quietReplay.length === 7 ? true : undefined));
  assert.equal(quiet.recovered, true);
  assert.deepEqual(quietReplay.map((a) => a[0]), ["s1", "s2", "s3", "s4", "s5", "s6", "s7"]);
});

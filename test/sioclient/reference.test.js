// Carrier beside the reference socket.io server (socket.io 4.8 from npm, in
// this process): the same raw Engine.IO requests get the same answers, and
// the real client sees the same CONNECT reply and heartbeat.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { Server } from "socket.io";
import { io } from "socket.io-client";
import { Carrier, within } from "./server.js";

const T = 20000;
let carrier;
let reference;
let referenceURL;

before(async () => {
  carrier = await Carrier.start();
  const http = createServer();
  reference = new Server(http, { connectionStateRecovery: {} });
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  referenceURL = `http://127.0.0.1:${http.address().port}`;
});
after(async () => {
  reference.close();
  await carrier.destroy();
});

async function answer(base, method, query, body) {
  const r = await fetch(`${base}/socket.io/?${query}`, { method, body });
  return { status: r.status, body: await r.text() };
}

/** Both servers' answers to the same request. */
async function both(method, query, body) {
  return Promise.all([answer(referenceURL, method, query, body), answer(carrier.url, method, query, body)]);
}

test("bad handshakes and unknown sessions get the reference server's answers", async () => {
  for (const [method, query] of [
    ["GET", "EIO=3&transport=polling"],
    ["GET", "transport=polling"],
    ["GET", "EIO=4&transport=carrier-pigeon"],
    ["GET", "EIO=4"],
    ["GET", "EIO=4&transport=polling&sid=nope"],
    ["POST", "EIO=4&transport=polling&sid=nope"],
    ["POST", "EIO=4&transport=polling"],
    ["GET", "EIO=4&transport=websocket"],
  ]) {
    const [ref, got] = await both(method, query);
    assert.deepEqual(got, ref, `${method} ?${query}`);
  }
});

async function handshake(base) {
  const { status, body } = await answer(base, "GET", "EIO=4&transport=polling");
  assert.equal(status, 200);
  return JSON.parse(body.slice(1));
}

test("the open packet has the reference server's fields", async () => {
  const [ref, got] = await Promise.all([handshake(referenceURL), handshake(carrier.url)]);
  assert.deepEqual(Object.keys(got).sort(), Object.keys(ref).sort());
  assert.deepEqual(got.upgrades, ref.upgrades);
  assert.equal(got.pingInterval, ref.pingInterval);
  assert.equal(got.pingTimeout, ref.pingTimeout);
  assert.equal(got.maxPayload, ref.maxPayload);
});

test("a second concurrent poll: the first gets a close packet, the second 400, the session is gone", async () => {
  for (const base of [referenceURL, carrier.url]) {
    const { sid } = await handshake(base);
    const q = `EIO=4&transport=polling&sid=${sid}`;
    const first = answer(base, "GET", q);
    await new Promise((r) => setTimeout(r, 200)); // the first GET is pending (no packet is due for 25 s)
    const second = await answer(base, "GET", q);
    assert.equal(second.status, 400, `${base}: second GET`);
    assert.deepEqual(await within("first GET", T, first), { status: 200, body: "1" }, `${base}: first GET`);
    assert.deepEqual(await answer(base, "GET", q), { status: 400, body: '{"code":1,"message":"Session ID unknown"}' });
  }
});

test("a packet before CONNECT closes the session on both", async () => {
  for (const base of [referenceURL, carrier.url]) {
    const { sid } = await handshake(base);
    const q = `EIO=4&transport=polling&sid=${sid}`;
    assert.deepEqual(await answer(base, "POST", q, '42["ev",1]'), { status: 200, body: "ok" });
    const poll = await answer(base, "GET", q);
    // The reference answers "6\x1e1" (a noop, then the close), Carrier "1".
    assert.equal(poll.status, 200);
    assert.equal(poll.body.split("\x1e").at(-1), "1", `${base}: the close packet (${JSON.stringify(poll.body)})`);
  }
});

test("the real client: the CONNECT reply carries sid and pid on both", async () => {
  for (const base of [referenceURL, carrier.url]) {
    const s = io(base, { transports: ["websocket"], reconnection: false });
    await within(`connect ${base}`, T, new Promise((resolve, reject) => {
      s.once("connect", resolve);
      s.once("connect_error", reject);
    }));
    assert.equal(typeof s.id, "string");
    assert.equal(s.recovered, false);
    assert.equal(typeof s._pid, "string", `${base}: a pid for recovery`);
    s.disconnect();
  }
});

// The driver app: takes pickups, reports in-transit and delivered. Its own
// consumer group ("drivers") gets every pickup once, whichever driver is
// connected; a pickup is acked only when both updates are stored, so a
// driver that crashes halfway has it redelivered.
//
//   CARRIER_URL=http://127.0.0.1:7420 node driver.mjs [pickups]
//
// It exits after that many pickups (default: never).
import { io } from "socket.io-client";

const url = process.env.CARRIER_URL ?? "http://127.0.0.1:7420";
const limit = Number(process.argv[2] ?? Infinity);
const name = process.env.DRIVER ?? "Dana";

const socket = io(`${url}/orders`, {
  auth: { group: "drivers", events: ["pickup"] },
});

let done = 0;
socket.on("pickup", async (order, offset, ack) => {
  console.log(`picking up order ${order.id} at ${order.from}`);
  await socket.emitWithAck("in-transit", { id: order.id, driver: name });
  await socket.emitWithAck("delivered", { id: order.id, driver: name });
  ack();
  if (++done === limit) {
    console.log(`${done} pickups done`);
    socket.disconnect();
  }
});
socket.on("connect", () => console.log(`driver ${name} connected`));
socket.on("error", (err) => console.error("carrier error", err.code, err.message));

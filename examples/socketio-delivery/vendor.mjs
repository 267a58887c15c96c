// The vendor app: asks for pickups and follows its orders. It is an
// unchanged socket.io-client app; what makes it Carrier's is the URL and the
// auth: its own consumer group, so an update sent while it is away waits for it.
//
//   CARRIER_URL=http://127.0.0.1:7420 node vendor.mjs [orders]
//
// It emits "pickup" for orders 1..N (default 3), prints every update, and
// exits once each order is delivered. With 0 it asks for nothing and
// prints updates until stopped: the ones it missed first.
import { io } from "socket.io-client";

const url = process.env.CARRIER_URL ?? "http://127.0.0.1:7420";
const orders = Number(process.argv[2] ?? 3);
const run = process.env.RUN ?? "demo"; // makes order ids unique per run

const socket = io(`${url}/orders`, {
  auth: { group: "acme-widgets", events: ["in-transit", "delivered"] },
});

const delivered = new Set();
socket.on("in-transit", (order, offset, ack) => {
  console.log(`order ${order.id} is on its way with ${order.driver}`);
  ack(); // done with it: never sent to this group again
});
socket.on("delivered", (order, offset, ack) => {
  console.log(`order ${order.id} delivered`);
  ack();
  delivered.add(order.id);
  if (orders > 0 && delivered.size === orders) {
    console.log("all orders delivered");
    socket.disconnect();
  }
});
socket.on("error", (err) => console.error("carrier error", err.code, err.message));

socket.once("connect", async () => {
  for (let n = 1; n <= orders; n++) {
    const id = `${run}-${n}`;
    // The ack comes once the event is on the disks of a majority of the cluster.
    const { seq } = await socket.emitWithAck("pickup", { id, from: "Acme Widgets, dock 4" });
    console.log(`pickup for order ${id} stored as #${seq}`);
  }
});

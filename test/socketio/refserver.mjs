// refserver.mjs is the reference socket.io server (the npm package) doing
// what Carrier does for an emit, in memory and on one process: every event
// a client emits is sent to every other socket of its namespace (the
// fan-out a tail subscription gives; Carrier's benchmark publishers filter
// their own events out), and its ack callback gets {seq} once it is sent. carrier-bench's socket.io workload runs it beside Carrier (docs/benchmarks.md).
// Usage: node refserver.mjs [host:port]   (prints "listening <url>")
import { createServer } from "node:http";
import { Server } from "socket.io";

const [host, port] = (process.argv[2] ?? "127.0.0.1:0").split(":");
const http = createServer();
const io = new Server(http, { maxHttpBufferSize: 1e6, serveClient: false });
let seq = 0;
io.of(/.*/).on("connection", (socket) => {
  socket.onAny((event, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    socket.broadcast.emit(event, ...args);
    if (ack) ack({ seq: ++seq });
  });
});
http.listen(Number(port), host, () => {
  const a = http.address();
  process.stdout.write(`listening http://${a.address}:${a.port}\n`);
});
process.on("SIGTERM", () => io.close(() => process.exit(0)));

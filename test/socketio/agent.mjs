// agent.mjs drives real socket.io-client sockets for the Go tests in this
// directory. It reads one JSON command per line on stdin and writes one
// JSON event per line on stdout; the Go side decides what happens when
// (DESIGN.md). Commands:
//
//   {"op":"connect","name":"vendor","url":"http://127.0.0.1:8000/orders","opts":{...},"ack":"auto"|"manual"|"none"}
//   {"op":"emit","name":"driver","key":"k1","event":"pickup","args":[...],"ack":true}
//   {"op":"ack","name":"vendor","key":"vendor/3"}   (a manual-ack delivery)
//   {"op":"disconnect","name":"vendor"}             (socket.disconnect(): a clean close)
//   {"op":"reconnect","name":"vendor"}              (socket.connect() again)
//   {"op":"drop","name":"tail"}                     (close the Engine.IO transport: a lost network)
//   {"op":"exit"}
//
// Events: ready, open {sid, transport} (an Engine.IO session opened),
// upgrade {sid, transport}, connect {sid, id, recovered, transport}, disconnect {reason}, connect_error {message}, event {event,
// args, key, offset}, error {args}, acked {key, err, res}, fail {message}.
import { io } from "socket.io-client";
import { createInterface } from "node:readline";

const sockets = new Map(); // name -> {socket, ack, pending: Map(key -> ack fn), n}

function out(ev, fields) {
  process.stdout.write(JSON.stringify({ ev, ...fields }) + "\n");
}

// plain drops the ack function socket.io passes as the last argument.
function plain(args) {
  return args.filter((a) => typeof a !== "function");
}

function connect(cmd) {
  const socket = io(cmd.url, { forceNew: true, ...cmd.opts });
  const s = { socket, ack: cmd.ack ?? "auto", pending: new Map(), n: 0 };
  sockets.set(cmd.name, s);
  const name = cmd.name;
  // The manager opens an Engine.IO session per (re)connection: report the
  // transport it opened with and its upgrade, which may come before the
  // namespace's connect.
  socket.io.on("open", () => {
    const engine = socket.io.engine;
    out("open", { name, sid: engine.id, transport: engine.transport.name });
    engine.once("upgrade", (t) => out("upgrade", { name, sid: engine.id, transport: t.name }));
  });
  socket.on("connect", () => {
    const engine = socket.io.engine;
    out("connect", { name, sid: engine.id, id: socket.id, recovered: socket.recovered, transport: engine.transport.name });
  });
  socket.on("disconnect", (reason) => out("disconnect", { name, reason }));
  socket.on("connect_error", (err) => out("connect_error", { name, message: err.message, data: err.data ?? null }));
  socket.onAny((event, ...args) => onEvent(name, s, event, args));
}

function onEvent(name, s, event, args) {
  const fn = typeof args[args.length - 1] === "function" ? args[args.length - 1] : null;
  const key = `${name}/${++s.n}`;
  if (event === "error") {
    out("error", { name, key, args: plain(args) });
    return;
  }
  out("event", { name, key, event, args: plain(args), ackable: fn !== null, offset: s.socket._lastOffset ?? null });
  if (fn && s.ack === "auto") fn();
  if (fn && s.ack === "manual") s.pending.set(key, fn);
}

function emit(cmd) {
  const { socket } = sockets.get(cmd.name);
  if (!cmd.ack) {
    socket.emit(cmd.event, ...(cmd.args ?? []));
    return;
  }
  socket.timeout(cmd.timeout ?? 20000).emit(cmd.event, ...(cmd.args ?? []), (err, res) => {
    out("acked", { name: cmd.name, key: cmd.key, err: err ? String(err.message ?? err) : null, res: res ?? null });
  });
}

const ops = {
  connect,
  emit,
  ack(cmd) {
    const s = sockets.get(cmd.name);
    const fn = s.pending.get(cmd.key);
    s.pending.delete(cmd.key);
    if (!fn) throw new Error(`no delivery ${cmd.key} waits for an ack`);
    fn();
  },
  disconnect(cmd) {
    sockets.get(cmd.name).socket.disconnect();
  },
  reconnect(cmd) {
    sockets.get(cmd.name).socket.connect();
  },
  drop(cmd) {
    sockets.get(cmd.name).socket.io.engine.close();
  },
  exit() {
    for (const { socket } of sockets.values()) socket.disconnect();
    out("bye", {});
    process.exit(0);
  },
};

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  try {
    const cmd = JSON.parse(line);
    ops[cmd.op](cmd);
  } catch (err) {
    out("fail", { message: String(err?.stack ?? err), line });
  }
});
rl.on("close", () => ops.exit());
out("ready", {});

// A single-node `carrier serve` for the tests, on free loopback ports and a
// temporary data dir, restartable on both; the binary is CARRIER_BIN, or
// built from the repository once per test process.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
let binary;

function carrierBinary() {
  if (binary) return binary;
  binary = process.env.CARRIER_BIN;
  if (!binary) {
    binary = join(here, "build", "carrier");
    execFileSync("go", ["build", "-o", binary, "./cmd/carrier"], { cwd: join(here, "..", ".."), stdio: "inherit" });
  }
  return binary;
}

/** A free loopback port (the kernel's pick, released at once). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Polls check until it returns something other than undefined, or fails after ms. */
export async function eventually(what, ms, check) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${last})` : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Races p against a deadline. */
export async function within(what, ms, p) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

/** One `carrier serve`, restartable on the same data dir and ports. */
export class Carrier {
  dataDir = mkdtempSync(join(tmpdir(), "carrier-sio-"));
  httpPort = 0;
  raftPort = 0;
  #proc;
  #exited = Promise.resolve();
  #log = "";

  static async start(extra = []) {
    const s = new Carrier();
    s.extra = extra;
    s.httpPort = await freePort();
    s.raftPort = await freePort();
    await s.start();
    return s;
  }

  get url() {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** Starts the process and waits until /readyz answers 200. */
  async start() {
    const args = ["serve", "--data", this.dataDir, "--listen", `127.0.0.1:${this.httpPort}`,
      "--raft-bind", `127.0.0.1:${this.raftPort}`, "--log-level", "warn", ...this.extra];
    const p = spawn(carrierBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
    this.#proc = p;
    p.stdout.on("data", (b) => (this.#log += b.toString()));
    p.stderr.on("data", (b) => (this.#log += b.toString()));
    let gone = false;
    this.#exited = new Promise((resolve) => p.once("exit", () => ((gone = true), resolve())));
    await eventually("carrier serve ready", 30000, async () => {
      if (gone) throw new Error(`carrier serve exited:\n${this.#log}`);
      const r = await fetch(`${this.url}/readyz`).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    });
  }

  /** Stops the process (SIGTERM: a clean stop; SIGKILL: a crash) and waits for its exit. */
  async stop(signal = "SIGTERM") {
    const p = this.#proc;
    if (!p) return;
    this.#proc = undefined;
    if (p.exitCode === null && p.signalCode === null) p.kill(signal);
    await within("carrier serve exit", 20000, this.#exited);
  }

  /** Stops the process and removes its data. */
  async destroy() {
    await this.stop("SIGKILL");
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** GET path on the HTTP API, as JSON. */
  async get(path) {
    const r = await fetch(this.url + path);
    if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
    return r.json();
  }
}

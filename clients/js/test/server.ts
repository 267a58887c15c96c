// Real `carrier serve` processes for the tests, on loopback, each in its own
// temporary data dir. The binary is CARRIER_BIN, or built from the repo root
// with `go build` into build/carrier.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url)); // build/test/
const pkgDir = join(here, "..", "..");
const repoRoot = join(pkgDir, "..", "..");

let binary: string | undefined;

/** The carrier binary: CARRIER_BIN, or built once per test process. */
export function carrierBinary(): string {
  if (binary) return binary;
  binary = process.env.CARRIER_BIN;
  if (!binary) {
    binary = join(pkgDir, "build", "carrier");
    execFileSync("go", ["build", "-o", binary, "./cmd/carrier"], { cwd: repoRoot, stdio: "inherit" });
  }
  return binary;
}

/** A free loopback port (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

/** Polls check until it returns a value other than undefined, or fails after ms. */
export async function eventually<T>(what: string, ms: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
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
export async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

/** One single-node `carrier serve`, restartable on the same data dir and ports. */
export class Server {
  readonly dataDir = mkdtempSync(join(tmpdir(), "carrier-js-"));
  httpPort = 0;
  raftPort = 0;
  #proc: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #log = "";

  static async start(): Promise<Server> {
    const s = new Server();
    s.httpPort = await freePort();
    s.raftPort = await freePort();
    await s.start();
    return s;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.httpPort}/v1/ws`;
  }

  get httpURL(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** Starts the process and waits until /readyz answers 200. */
  async start(): Promise<void> {
    const args = ["serve", "--data", this.dataDir, "--listen", `127.0.0.1:${this.httpPort}`,
      "--raft-bind", `127.0.0.1:${this.raftPort}`, "--log-level", "warn"];
    const p = spawn(carrierBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
    this.#proc = p;
    p.stdout!.on("data", (b: Buffer) => (this.#log += b.toString()));
    p.stderr!.on("data", (b: Buffer) => (this.#log += b.toString()));
    let gone = false;
    this.#exited = new Promise((resolve) => p.once("exit", () => ((gone = true), resolve())));
    await eventually("carrier serve ready", 30000, async () => {
      if (gone) throw new Error(`carrier serve exited:\n${this.#log}`);
      const r = await fetch(`${this.httpURL}/readyz`).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    }).catch((e) => {
      if (gone) throw new Error(`carrier serve exited before it was ready:\n${this.#log}`);
      throw e;
    });
  }

  /** Stops the process (SIGTERM: a clean stop; SIGKILL: a crash) and waits for its exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const p = this.#proc;
    if (!p) return;
    this.#proc = undefined;
    if (p.exitCode === null && p.signalCode === null) p.kill(signal);
    await within("carrier serve exit", 20000, this.#exited);
  }

  /** Stops the process and removes its data. */
  async destroy(): Promise<void> {
    await this.stop("SIGKILL");
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** GET path on the HTTP API, as JSON. */
  async get<T = any>(path: string): Promise<T> {
    const r = await fetch(this.httpURL + path);
    if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  }

  /** Every message stored in queue, from seq 1. */
  async messages(queue: string): Promise<{ seq: number; msgId: string; data: unknown }[]> {
    const r = await this.get<{ messages: { seq: number; msgId: string; data: unknown }[] }>(
      `/v1/queues/${queue}/messages?from=1&limit=1000`);
    return r.messages ?? [];
  }
}

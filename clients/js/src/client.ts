// The client: one WebSocket at a time, requests and their replies,
// reconnects with backoff, re-sent publishes.

import { CarrierError } from "./errors.js";
import { type Frame, type WireMessage, newMessageId, toBase64 } from "./frames.js";
import {
  type ConnectOptions,
  type ResolvedOptions,
  type WebSocketConstructor,
  type WebSocketLike,
  backoff,
  webSocketURL,
  withDefaults,
} from "./options.js";
import { type SubLink, type SubscribeOptions, Subscription } from "./subscription.js";

/** The carrier.v1 subprotocol the client offers. */
export const subprotocol = "carrier.v1";

/** One message to publish. Give `data` (any JSON value) or `binary`, not both. */
export interface Message {
  /** The event name. */
  event?: string;
  data?: unknown;
  binary?: Uint8Array;
  headers?: Record<string, string>;
  /** Groups receive the message only from then on. */
  deliverAt?: Date;
  /**
   * The id the server de-duplicates on. When absent the client makes a
   * random one, so its own re-sends are safe; set it to make yours safe too.
   */
  id?: string;
}

/** The server's confirmation: the message is on the disks of a majority. */
export interface PublishResult {
  seq: number;
  msgId: string;
  /** The id was already published within the queue's dedup window; seq is the first copy's. */
  duplicate: boolean;
}

/** One message's outcome in a batch: its confirmation, or the error that refused it. */
export interface BatchResult extends PublishResult {
  error?: CarrierError;
}

export interface PublishOptions {
  /** Gives up waiting (the publish may still be stored: retry with the same id). */
  signal?: AbortSignal;
}

type Request = {
  frame: Frame;
  resend: boolean; // publishes: re-sent on the next connection
  resolve: (f: Frame) => void;
  reject: (e: CarrierError) => void;
};

const OPEN = 1;

/**
 * A connection to a Carrier cluster. Make one with `connect`. It reconnects
 * by itself, to any of its URLs, until `close`.
 */
export class Client {
  readonly #urls: string[];
  readonly #o: ResolvedOptions;
  readonly #WS: WebSocketConstructor;
  #ws: WebSocketLike | undefined;
  #gen = 0; // of the current connection; events of older ones are ignored
  #lastURL = -1;
  #closed = false;
  #nextId = 1;
  #pending = new Map<string, Request>(); // in send order: re-sent in that order
  #subs = new Set<Subscription>();
  #bySid = new Map<string, Subscription>();
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #lastRecv = 0;
  #connectedAt = 0;
  #attempt = 0;
  #wake: (() => void) | undefined; // cuts a reconnect backoff short on close
  #link: SubLink;

  /** @internal Use connect. */
  constructor(urls: string[], opts: ConnectOptions) {
    if (urls.length === 0) throw new TypeError("connect: no server URL");
    this.#urls = urls.map(webSocketURL);
    this.#o = withDefaults(opts);
    const WS = this.#o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new TypeError("connect: no WebSocket implementation: pass options.WebSocket");
    this.#WS = WS;
    this.#link = {
      request: (f) => this.#request(f, false),
      send: (f, onReply, onError) => this.#send(f, false, onReply, onError),
      gen: () => this.#gen,
      bind: (sid, s) => this.#bySid.set(sid, s),
      drop: (s, sid) => {
        this.#subs.delete(s);
        if (sid !== undefined && this.#bySid.get(sid) === s) this.#bySid.delete(sid);
      },
      abort: (reason) => this.#abort(reason),
    };
  }

  /** @internal The first connection: one pass over the URLs. */
  async start(): Promise<void> {
    const ws = await this.#dialAny();
    if (!ws) {
      this.#closed = true;
      throw new CarrierError("not_connected", `connect: none of ${this.#urls.join(", ")} answered`);
    }
    this.#install(ws);
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return this.#ws !== undefined;
  }

  /**
   * Publishes one message and resolves with the server's confirmation, which
   * comes after a majority has it on disk. Across lost connections and
   * retryable errors the message is re-sent with the same id until it is
   * confirmed, `publishTimeout` passes or the signal aborts: a resolved
   * publish is stored exactly once.
   */
  async publish(queue: string, m: Message, opts: PublishOptions = {}): Promise<PublishResult> {
    const w = wireMessage(m);
    const reply = await this.#retry({ type: "publish", queue, ...w }, opts.signal);
    return { seq: reply.seq ?? 0, msgId: reply.msgId ?? w.msgId!, duplicate: reply.duplicate === true };
  }

  /**
   * Publishes up to 1000 messages as one request (committed together),
   * retried like `publish`. Resolves with one result per message, in order; a
   * message the server refused has `error` set.
   */
  async publishBatch(queue: string, msgs: Message[], opts: PublishOptions = {}): Promise<BatchResult[]> {
    const messages = msgs.map(wireMessage);
    const reply = await this.#retry({ type: "publish", queue, messages }, opts.signal);
    const results = reply.results ?? [];
    if (results.length !== msgs.length) {
      throw new CarrierError("internal", `publish to ${queue}: ${results.length} results for ${msgs.length} messages`);
    }
    return results.map((r, i) => {
      const out: BatchResult = { seq: r.seq ?? 0, msgId: r.msgId || messages[i]!.msgId!, duplicate: r.duplicate === true };
      if (r.error) out.error = new CarrierError(r.error.code, r.error.message);
      return out;
    });
  }

  /**
   * Subscribes to queue: a tail without `group`, a consumer group member
   * with it. Resolves once the server has confirmed the subscription; rejects
   * with a CarrierError when it refuses it (bad_name, bad_request, …).
   */
  subscribe(queue: string, opts: SubscribeOptions = {}): Promise<Subscription> {
    if (this.#closed) return Promise.reject(closedError("subscribe"));
    const s = new Subscription(this.#link, queue, opts);
    const ready = s.ready();
    this.#subs.add(s);
    if (this.#ws) s.send(); // else sent when the next connection is installed
    return ready;
  }

  /** Sends a ping and resolves at its pong: a round trip to the node. */
  async ping(): Promise<void> {
    await this.#request({ type: "ping" }, false);
  }

  /**
   * Closes the connection (code 1000), stops reconnecting, fails every
   * waiting request with `closed` and ends every subscription's iteration.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    const ws = this.#ws;
    this.#detach();
    for (const [id, r] of this.#pending) {
      this.#pending.delete(id);
      r.reject(closedError(r.frame.type));
    }
    for (const s of [...this.#subs]) s.end();
    if (ws) await closeSocket(ws);
    this.#o.onState?.("closed", "");
  }

  // --- requests ---

  #request(frame: Frame, resend: boolean, signal?: AbortSignal, deadline?: number): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => this.#send(frame, resend, resolve, reject, signal, deadline));
  }

  /**
   * Sends frame with the next request id. onReply and onError run
   * synchronously with the reply's arrival, before any later frame is
   * handled (a subscription binds its id there, before its first message).
   */
  #send(frame: Frame, resend: boolean, onReply: (f: Frame) => void, onError: (e: CarrierError) => void,
    signal?: AbortSignal, deadline?: number): void {
    if (this.#closed) return onError(closedError(frame.type));
    if (!this.#ws && !resend) return onError(new CarrierError("disconnected", `${frame.type}: not connected`));
    const id = String(this.#nextId++);
    const f = { ...frame, id };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.#pending.delete(id);
    };
    const onAbort = () => {
      done();
      onError(new CarrierError("aborted", `${frame.type} to ${frame.queue}: aborted; its outcome is unknown`, { cause: signal?.reason }));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort);
    if (deadline !== undefined) {
      timer = setTimeout(() => {
        done();
        onError(new CarrierError("timeout", `${frame.type} to ${frame.queue}: not confirmed within ${this.#o.publishTimeout} ms; its outcome is unknown (retry with the same id)`));
      }, Math.max(0, deadline - Date.now()));
    }
    this.#pending.set(id, {
      frame: f,
      resend,
      resolve: (r) => (done(), onReply(r)),
      reject: (e) => (done(), onError(e)),
    });
    this.#ws?.send(JSON.stringify(f));
  }

  /** Sends a publish until it is confirmed, fails for good, times out or is aborted. */
  async #retry(frame: Frame, signal?: AbortSignal): Promise<Frame> {
    const deadline = this.#o.publishTimeout > 0 ? Date.now() + this.#o.publishTimeout : undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#request(frame, true, signal, deadline);
      } catch (e) {
        if (!(e instanceof CarrierError) || !e.retryable || (deadline !== undefined && Date.now() >= deadline)) throw e;
        const wait = backoff(this.#o, attempt);
        if (deadline !== undefined && Date.now() + wait >= deadline) throw e;
        await sleep(wait, signal);
      }
    }
  }

  // --- the connection ---

  async #dialAny(): Promise<WebSocketLike | undefined> {
    const n = this.#urls.length;
    for (let i = 0; i < n && !this.#closed; i++) {
      const k = (this.#lastURL + 1 + i) % n;
      const ws = await dial(this.#WS, this.#urls[k]!, this.#o.dialTimeout).catch(() => undefined);
      if (ws && this.#closed) {
        ws.close(1000);
        return undefined;
      }
      if (ws) {
        this.#lastURL = k;
        return ws;
      }
    }
    return undefined;
  }

  /** Makes ws the current connection: resubscribes, then re-sends unconfirmed publishes in order. */
  #install(ws: WebSocketLike): void {
    const gen = ++this.#gen;
    this.#ws = ws;
    this.#connectedAt = this.#lastRecv = Date.now();
    ws.onmessage = (ev) => gen === this.#gen && this.#onFrame(ev.data);
    ws.onclose = (ev) => gen === this.#gen && this.#lost(`closed ${ev.code} ${ev.reason}`.trim());
    ws.onerror = () => gen === this.#gen && this.#lost("socket error");
    this.#pingTimer = setInterval(() => this.#tick(), this.#o.pingInterval / 2);
    const resend = [...this.#pending.values()]; // only publishes outlive a connection
    for (const s of this.#subs) s.send();
    for (const r of resend) ws.send(JSON.stringify(r.frame));
    this.#o.onState?.("connected", this.#urls[this.#lastURL]!);
  }

  #tick(): void {
    if (!this.#ws) return;
    if (Date.now() - this.#lastRecv > 2 * this.#o.pingInterval) {
      this.#abort("no frame from the server for two ping intervals");
      return;
    }
    this.#ws.send(JSON.stringify({ type: "ping" }));
  }

  #onFrame(data: unknown): void {
    this.#lastRecv = Date.now();
    let f: Frame;
    try {
      f = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer));
    } catch {
      return; // the server sends JSON text only
    }
    if (f.type === "message") {
      if (f.sub !== undefined) this.#bySid.get(f.sub)?.deliver(f, this.#gen);
      return;
    }
    const r = f.id === undefined ? undefined : this.#pending.get(f.id);
    if (r) {
      if (f.type === "error") r.reject(errorFromFrame(f, r.frame));
      else r.resolve(f);
      return;
    }
    if (f.type === "error" && f.sub !== undefined) {
      // The server ended a subscription on its own (its queue was deleted).
      this.#bySid.get(f.sub)?.end(errorFromFrame(f));
    }
  }

  /** Drops the current connection on purpose and reconnects. */
  #abort(reason: string): void {
    const ws = this.#ws;
    if (!ws) return;
    this.#lost(reason);
    ws.close(1000);
  }

  /** The current connection is gone: fail what cannot be re-sent, then reconnect. */
  #lost(detail: string): void {
    if (!this.#ws) return;
    const url = this.#urls[this.#lastURL]!;
    this.#detach();
    for (const [id, r] of this.#pending) {
      if (r.resend) continue;
      this.#pending.delete(id);
      r.reject(new CarrierError("disconnected", `${r.frame.type}: the connection was lost before the reply (${detail})`));
    }
    this.#o.onState?.("disconnected", url, detail);
    void this.#reconnect();
  }

  #detach(): void {
    this.#gen++;
    this.#ws = undefined;
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
    this.#bySid.clear();
    for (const s of this.#subs) s.detach();
  }

  async #reconnect(): Promise<void> {
    if (Date.now() - this.#connectedAt > this.#o.reconnectMax) this.#attempt = 0;
    while (!this.#closed) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoff(this.#o, this.#attempt++));
        this.#wake = () => (clearTimeout(t), resolve());
      });
      this.#wake = undefined;
      if (this.#closed) return;
      const ws = await this.#dialAny();
      if (ws && !this.#closed) {
        this.#install(ws);
        return;
      }
    }
  }
}

/** Connects to the first of urls that answers (one pass, in order) and keeps reconnecting to any of them. */
export async function connect(urls: string | string[], opts: ConnectOptions = {}): Promise<Client> {
  const c = new Client(typeof urls === "string" ? [urls] : urls, opts);
  await c.start();
  return c;
}

function wireMessage(m: Message): WireMessage {
  const w: WireMessage = { msgId: m.id ?? newMessageId() };
  if (m.event !== undefined) w.event = m.event;
  if (m.binary !== undefined) w.binary = toBase64(m.binary);
  else if (m.data !== undefined) w.data = m.data;
  if (m.headers !== undefined) w.headers = m.headers;
  if (m.deliverAt !== undefined) w.deliverAt = m.deliverAt.toISOString();
  return w;
}

function errorFromFrame(f: Frame, req?: Frame): CarrierError {
  const what = req ? `${req.type}${req.queue ? ` to ${req.queue}` : ""}: ` : "";
  return new CarrierError(f.code ?? "internal", what + (f.message ?? f.code ?? "error"), f.seqs ? { seqs: f.seqs } : undefined);
}

function closedError(what: string): CarrierError {
  return new CarrierError("closed", `${what}: the client was closed`);
}

/** Opens one WebSocket with the carrier.v1 subprotocol, within timeout ms. */
function dial(WS: WebSocketConstructor, url: string, timeout: number): Promise<WebSocketLike> {
  return new Promise((resolve, reject) => {
    let ws: WebSocketLike;
    try {
      ws = new WS(url, subprotocol);
    } catch (e) {
      return reject(e);
    }
    const t = setTimeout(() => fail(new Error(`dial ${url}: no handshake within ${timeout} ms`)), timeout);
    const fail = (e: Error) => {
      clearTimeout(t);
      ws.onopen = ws.onclose = ws.onerror = null;
      try {
        ws.close();
      } catch {
        // closing a socket that never opened may throw; it is gone either way
      }
      reject(e);
    };
    ws.onopen = () => {
      if (ws.protocol !== subprotocol) return fail(new Error(`dial ${url}: the server did not accept ${subprotocol}`));
      clearTimeout(t);
      ws.onopen = ws.onclose = ws.onerror = null;
      resolve(ws);
    };
    ws.onerror = () => fail(new Error(`dial ${url}: failed`));
    ws.onclose = (ev) => fail(new Error(`dial ${url}: closed ${ev.code}`));
  });
}

/** Closes ws with 1000 and resolves when it is closed (or after a second). */
function closeSocket(ws: WebSocketLike): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState !== OPEN) return resolve();
    const t = setTimeout(resolve, 1000);
    ws.onclose = () => (clearTimeout(t), resolve());
    ws.onerror = null;
    ws.close(1000);
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => (signal?.removeEventListener("abort", onAbort), resolve()), ms);
    const onAbort = () => (clearTimeout(t), reject(new CarrierError("aborted", "publish: aborted; its outcome is unknown", { cause: signal?.reason })));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort);
  });
}

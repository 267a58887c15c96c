// Subscriptions: an async iterator of deliveries that survives reconnects.

import { CarrierError } from "./errors.js";
import { type Frame, fromBase64, goDuration } from "./frames.js";

/** Where a subscription starts: "new", "first", a seq, or a time. */
export type From = "new" | "first" | number | Date;

export interface SubscribeOptions {
  /** A durable consumer group to join; without it the subscription is a tail. */
  group?: string;
  /** Start position; tails default to "new", a new group to "first". A number is a seq (≥ 1). */
  from?: From;
  /** For a new group: how long a delivery waits for its ack, ms or a Go duration; default the queue's (30 s). */
  ackWait?: number | string;
  /** For a new group: deliveries before a message moves to the dead-letter queue; default the queue's (5). */
  maxDeliver?: number;
  /** For a new group: unacked messages per member; default the queue's (100). */
  maxInFlight?: number;
}

/** The client side a Subscription needs; implemented by Client. */
export interface SubLink {
  /** Sends a request on the current connection; rejects with `disconnected` when there is none. */
  request(f: Frame): Promise<Frame>;
  /** As request, with callbacks run synchronously at the reply. */
  send(f: Frame, onReply: (f: Frame) => void, onError: (e: CarrierError) => void): void;
  /** The current connection's generation. */
  gen(): number;
  /** A subscribe reply arrived: route this server sub id's messages to s. */
  bind(sid: string, s: Subscription): void;
  /** s ended: forget it. */
  drop(s: Subscription, sid: string | undefined): void;
  /** A resubscribe failed with a retryable code: reconnect, maybe to another node. */
  abort(reason: string): void;
}

/** One message received by a subscription. */
export class Delivery {
  readonly queue: string;
  readonly group: string | undefined;
  readonly seq: number;
  readonly msgId: string;
  readonly event: string;
  /** The message's JSON value (undefined for a binary message). */
  readonly data: unknown;
  /** The message's bytes, for a message published with `binary`. */
  readonly binary: Uint8Array | undefined;
  readonly headers: Record<string, string>;
  /** When the leader accepted the publish. */
  readonly time: Date;
  /** Deliveries of this message to the group (groups only): 2 or more is a redelivery. */
  readonly attempt: number;
  readonly #sub: Subscription;
  readonly #gen: number;

  constructor(f: Frame, sub: Subscription, gen: number) {
    this.queue = f.queue ?? sub.queue;
    this.group = f.group;
    this.seq = f.seq ?? 0;
    this.msgId = f.msgId ?? "";
    this.event = f.event ?? "";
    this.data = f.data;
    this.binary = f.binary === undefined ? undefined : fromBase64(f.binary);
    this.headers = f.headers ?? {};
    this.time = new Date(f.time ?? 0);
    this.attempt = f.attempt ?? 1;
    this.#sub = sub;
    this.#gen = gen;
  }

  /** Acks the delivery; resolves once the ack is committed by a majority: it will not be redelivered. */
  ack(): Promise<void> {
    return this.#sub.settle("ack", this.seq, this.#gen);
  }

  /** Hands the delivery back to the group for redelivery, at once or after `delay` (ms or a Go duration). */
  nack(opts: { delay?: number | string } = {}): Promise<void> {
    return this.#sub.settle("nack", this.seq, this.#gen, opts.delay);
  }
}

type Waiter = { resolve: (r: IteratorResult<Delivery>) => void; reject: (e: unknown) => void };

/**
 * A live subscription: iterate it with `for await`. It resubscribes by itself
 * after a reconnect: a group member rejoins its group (and receives what the
 * group has not acked), a tail resumes at the seq after the last one it
 * delivered, so it never repeats or skips one. Leaving the loop (break,
 * return, throw) unsubscribes.
 */
export class Subscription implements AsyncIterable<Delivery> {
  readonly queue: string;
  readonly group: string | undefined;
  readonly #opts: SubscribeOptions;
  readonly #link: SubLink;
  #sid: string | undefined;
  #lastSeq = 0; // tail: the last seq delivered
  #nextSeq = 0; // tail: the first seq the server said it would send
  #buf: Delivery[] = [];
  #waiters: Waiter[] = [];
  #ended = false;
  #err: CarrierError | undefined;
  #first: { resolve: (s: Subscription) => void; reject: (e: unknown) => void } | undefined;

  /** @internal Made by Client.subscribe. */
  constructor(link: SubLink, queue: string, opts: SubscribeOptions) {
    this.#link = link;
    this.queue = queue;
    this.group = opts.group;
    this.#opts = opts;
  }

  /** The error that ended the subscription, if one did. */
  get error(): CarrierError | undefined {
    return this.#err;
  }

  /** Whether the subscription has ended (unsubscribed, client closed, or a final error). */
  get ended(): boolean {
    return this.#ended;
  }

  /** @internal Resolves at the first `subscribed` reply, rejects at a final error before it. */
  ready(): Promise<Subscription> {
    return new Promise((resolve, reject) => (this.#first = { resolve, reject }));
  }

  /** @internal Sends the subscribe frame on the current connection (first time or after a reconnect). */
  send(): void {
    if (this.#ended) return;
    const gen = this.#link.gen();
    this.#link.send(this.#frame(), (f) => this.#subscribed(f, gen), (e) => this.#failed(e));
  }

  #frame(): Frame {
    const o = this.#opts;
    const f: Frame = { type: "subscribe", queue: this.queue };
    if (o.group !== undefined) {
      f.group = o.group;
      if (o.ackWait !== undefined) f.ackWait = goDuration(o.ackWait);
      if (o.maxDeliver !== undefined) f.maxDeliver = o.maxDeliver;
      if (o.maxInFlight !== undefined) f.maxInFlight = o.maxInFlight;
    }
    const resume = this.#lastSeq > 0 ? this.#lastSeq + 1 : this.#nextSeq;
    if (o.group === undefined && resume > 0) f.fromSeq = resume;
    else if (typeof o.from === "number") f.fromSeq = o.from;
    else if (o.from instanceof Date) f.fromTime = o.from.toISOString();
    else if (o.from !== undefined) f.from = o.from;
    return f;
  }

  #subscribed(f: Frame, gen: number): void {
    if (this.#ended || gen !== this.#link.gen() || f.sub === undefined) return;
    this.#sid = f.sub;
    if (this.group === undefined && this.#lastSeq === 0 && f.seq) this.#nextSeq = f.seq;
    this.#link.bind(f.sub, this);
    this.#first?.resolve(this);
    this.#first = undefined;
  }

  #failed(err: CarrierError): void {
    if (this.#ended) return;
    if (err.code === "disconnected") return; // sent again on the next connection
    if (err.retryable) {
      this.#link.abort(`resubscribe to ${this.queue}: ${err.code}`);
      return;
    }
    this.end(err);
  }

  /** @internal The connection dropped: the server sub id is gone. */
  detach(): void {
    this.#sid = undefined;
  }

  /** @internal A message frame for this subscription. */
  deliver(f: Frame, gen: number): void {
    if (this.#ended) return;
    if (this.group === undefined) {
      const seq = f.seq ?? 0;
      if (seq <= this.#lastSeq) return; // already delivered before a reconnect
      this.#lastSeq = seq;
    }
    const d = new Delivery(f, this, gen);
    const w = this.#waiters.shift();
    if (w) w.resolve({ value: d, done: false });
    else this.#buf.push(d);
  }

  /** @internal Ack or nack of one delivery. */
  async settle(type: "ack" | "nack", seq: number, gen: number, delay?: number | string): Promise<void> {
    if (this.group === undefined) throw new TypeError(`${type} of a tail delivery: tails have no acks`);
    if (this.#ended) throw new CarrierError("closed", `${type} of ${this.queue} #${seq}: the subscription has ended`);
    if (gen !== this.#link.gen() || this.#sid === undefined) {
      throw new CarrierError("stale_delivery", `${type} of ${this.queue} #${seq}: the delivery came on a lost connection; the group delivers it again`);
    }
    const f: Frame = { type, sub: this.#sid, seqs: [seq] };
    if (delay !== undefined) f.delay = goDuration(delay);
    await this.#link.request(f);
  }

  /**
   * @internal Ends the subscription: iteration finishes after the buffered
   * deliveries, or throws err once they are consumed.
   */
  end(err?: CarrierError): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#err = err;
    this.#link.drop(this, this.#sid);
    this.#first?.reject(err ?? new CarrierError("closed", `subscribe to ${this.queue}: the client was closed`));
    this.#first = undefined;
    for (const w of this.#waiters.splice(0)) {
      if (err) w.reject(err);
      else w.resolve({ value: undefined, done: true });
    }
  }

  /** Leaves the queue (a group member's unacked messages go to other members at once). */
  async unsubscribe(): Promise<void> {
    if (this.#ended) return;
    const sid = this.#sid;
    this.end();
    if (sid === undefined) return;
    try {
      await this.#link.request({ type: "unsubscribe", sub: sid });
    } catch (e) {
      // Without a connection the server has already dropped the subscription.
      if (!(e instanceof CarrierError && (e.code === "disconnected" || e.code === "closed"))) throw e;
    }
  }

  /** The next delivery; done once the subscription has ended and its buffer is empty. */
  next(): Promise<IteratorResult<Delivery>> {
    const d = this.#buf.shift();
    if (d) return Promise.resolve({ value: d, done: false });
    if (this.#ended) {
      return this.#err ? Promise.reject(this.#err) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.unsubscribe();
        return { value: undefined, done: true };
      },
    };
  }
}

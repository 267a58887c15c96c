// Options, their defaults, the reconnect backoff and URL normalisation.

/** The part of the WebSocket API the client uses (browsers, Node 22+, `ws`). */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `ws`'s default export. */
export type WebSocketConstructor = new (url: string, protocols: string | string[]) => WebSocketLike;

/** Tunes a Client. Every field is optional; the default is written next to it. */
export interface ConnectOptions {
  /** The WebSocket implementation; default `globalThis.WebSocket` (the Node entry falls back to `ws`). */
  WebSocket?: WebSocketConstructor;
  /** WebSocket handshake, per URL, in ms; default 5000. */
  dialTimeout?: number;
  /** App-level ping interval in ms; the link is dead after 2 silent intervals; default 20000. */
  pingInterval?: number;
  /** First reconnect delay in ms; default 100. */
  reconnectMin?: number;
  /** Cap of the exponential backoff in ms; default 5000. */
  reconnectMax?: number;
  /** Deadline of one publish, retries included, in ms; default 30000; 0: none. */
  publishTimeout?: number;
  /** Called with each connection state change, for logs. */
  onState?: (state: "connected" | "disconnected" | "closed", url: string, detail?: string) => void;
}

export interface ResolvedOptions {
  WebSocket: WebSocketConstructor | undefined;
  dialTimeout: number;
  pingInterval: number;
  reconnectMin: number;
  reconnectMax: number;
  publishTimeout: number;
  onState: ConnectOptions["onState"];
}

export function withDefaults(o: ConnectOptions): ResolvedOptions {
  const pos = (v: number | undefined, d: number) => (v !== undefined && v > 0 ? v : d);
  return {
    WebSocket: o.WebSocket,
    dialTimeout: pos(o.dialTimeout, 5000),
    pingInterval: pos(o.pingInterval, 20000),
    reconnectMin: pos(o.reconnectMin, 100),
    reconnectMax: pos(o.reconnectMax, 5000),
    publishTimeout: o.publishTimeout === 0 ? 0 : pos(o.publishTimeout, 30000),
    onState: o.onState,
  };
}

/**
 * The delay before reconnect attempt n (0-based): exponential from
 * reconnectMin, capped at reconnectMax, with jitter drawn from [d/2, d] so
 * that many clients of a restarted node spread out.
 */
export function backoff(o: Pick<ResolvedOptions, "reconnectMin" | "reconnectMax">, n: number, random = Math.random): number {
  let d = o.reconnectMin;
  for (let i = 0; i < n && d < o.reconnectMax; i++) d *= 2;
  d = Math.min(d, o.reconnectMax);
  return d / 2 + random() * (d / 2);
}

/**
 * The WebSocket endpoint of a server address as users write it:
 * "host:port", "http://host:port", "ws://host:port" or a full ".../v1/ws" URL.
 */
export function webSocketURL(s: string): string {
  const raw = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `ws://${s}`;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new TypeError(`bad server address ${JSON.stringify(s)}`);
  }
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new TypeError(`bad server address ${JSON.stringify(s)}: scheme ${u.protocol} is not ws, wss, http or https`);
  }
  if (u.pathname === "" || u.pathname === "/") u.pathname = "/v1/ws";
  return u.toString();
}

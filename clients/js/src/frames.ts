// The carrier.v1 frames the client sends and reads (protocol/frame.go,
// docs/protocol.md). Only the fields the client uses are listed.

export interface WireMessage {
  msgId?: string;
  event?: string;
  data?: unknown;
  binary?: string; // base64
  headers?: Record<string, string>;
  deliverAt?: string;
}

export interface WireResult {
  seq?: number;
  msgId: string;
  duplicate?: boolean;
  error?: { code: string; message: string };
}

export interface Frame extends WireMessage {
  type: string;
  id?: string;
  queue?: string;
  messages?: WireMessage[];
  seq?: number;
  duplicate?: boolean;
  results?: WireResult[];
  group?: string;
  from?: string;
  fromSeq?: number;
  fromTime?: string;
  ackWait?: string;
  maxDeliver?: number;
  maxInFlight?: number;
  sub?: string;
  time?: string;
  attempt?: number;
  seqs?: number[];
  delay?: string;
  code?: string;
  message?: string;
}

/** A duration for the server: milliseconds as a Go duration, or a Go duration string as is. */
export function goDuration(d: number | string): string {
  return typeof d === "number" ? `${Math.round(d)}ms` : d;
}

export function toBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A random message id: 32 hex digits from the platform's CSPRNG. */
export function newMessageId(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

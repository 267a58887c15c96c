// Carrier's error codes: the catalogue of protocol/errors.go
// (docs/protocol.md, "Error codes"), plus the few failures the client
// itself reports. Codes are only ever added, never renamed.

/** Whether repeating a request that failed with a code may succeed. */
export type Retry = "yes" | "later" | "no";

/** Every code a Carrier server sends, with its retry column. */
export const serverCodes = {
  bad_frame: "no",
  unknown_type: "no",
  bad_request: "no",
  frame_too_large: "no",
  body_too_large: "no",
  too_many_subscriptions: "later",
  unknown_subscription: "no",
  slow_consumer: "yes",
  too_many_connections: "yes",
  not_leader: "yes",
  unavailable: "yes",
  unknown_outcome: "yes",
  timeout: "yes",
  not_found: "no",
  method_not_allowed: "no",
  internal: "later",
  bad_name: "no",
  bad_config: "no",
  queue_not_found: "later",
  queue_exists: "no",
  group_not_found: "later",
  group_exists: "no",
  queue_full: "later",
  storage_full: "later",
  message_too_large: "no",
  not_pending: "no",
  not_member: "later",
  too_many_queues: "later",
  too_many_groups: "later",
  too_many_members: "later",
  bad_command: "no",
  precondition_failed: "no",
} as const satisfies Record<string, Retry>;

/** A code the server sends (docs/protocol.md). */
export type ServerCode = keyof typeof serverCodes;

/**
 * Codes of failures the client reports itself:
 * - `closed`: the client was closed; nothing more is sent or received.
 * - `disconnected`: the connection dropped before the reply (acks, nacks,
 *   unsubscribes; publishes are re-sent instead).
 * - `not_connected`: `connect` reached none of its URLs.
 * - `stale_delivery`: ack/nack of a delivery that came on a connection that
 *   has since been lost; the group redelivers it.
 * - `aborted`: the caller's AbortSignal fired.
 */
export type ClientCode = "closed" | "disconnected" | "not_connected" | "stale_delivery" | "aborted";

export type ErrorCode = ServerCode | ClientCode;

/** The error of every failed Carrier operation. */
export class CarrierError extends Error {
  override name = "CarrierError";
  /** Carrier's stable code (a ServerCode), or a ClientCode. */
  readonly code: ErrorCode | (string & {});
  /** For `not_pending`: the seqs that were not awaiting an ack. */
  readonly seqs: number[] | undefined;

  constructor(code: ErrorCode | (string & {}), message: string, opts?: { seqs?: number[]; cause?: unknown }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.seqs = opts?.seqs;
  }

  /**
   * The server called the failure transient (retry "yes"), or the
   * connection dropped before the reply: the same request may be sent again
   * after a backoff. Publishes are safe to repeat with the same id.
   */
  get retryable(): boolean {
    return this.code === "disconnected" || retryOf(this.code) === "yes";
  }
}

/** The retry column of a server code; "no" for a code the client does not know. */
export function retryOf(code: string): Retry {
  return (serverCodes as Record<string, Retry>)[code] ?? "no";
}

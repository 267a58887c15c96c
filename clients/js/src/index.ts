// The browser entry (and the types of both entries): no import of any
// platform module, the global WebSocket unless options.WebSocket is given.

export { Client, connect, subprotocol } from "./client.js";
export type { BatchResult, Message, PublishOptions, PublishResult } from "./client.js";
export { Delivery, Subscription } from "./subscription.js";
export type { From, SubscribeOptions } from "./subscription.js";
export { CarrierError, retryOf, serverCodes } from "./errors.js";
export type { ClientCode, ErrorCode, Retry, ServerCode } from "./errors.js";
export { backoff, webSocketURL } from "./options.js";
export type { ConnectOptions, WebSocketConstructor, WebSocketLike } from "./options.js";

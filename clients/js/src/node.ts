// The Node entry: like the browser entry, but where Node has no global
// WebSocket (Node 20, 21) connect loads the `ws` package, an optional peer
// dependency, on first use.

import { type Client, connect as connectWith } from "./client.js";
import type { ConnectOptions, WebSocketConstructor } from "./options.js";

export * from "./index.js";

/** As the browser entry's connect; without options.WebSocket and a global one it uses `ws`. */
export async function connect(urls: string | string[], opts: ConnectOptions = {}): Promise<Client> {
  if (!opts.WebSocket && !(globalThis as { WebSocket?: unknown }).WebSocket) {
    opts = { ...opts, WebSocket: await loadWs() };
  }
  return connectWith(urls, opts);
}

async function loadWs(): Promise<WebSocketConstructor> {
  const name = "ws"; // a variable, so that bundlers of the browser build never resolve it
  try {
    const m = (await import(name)) as { WebSocket?: WebSocketConstructor; default?: WebSocketConstructor };
    const WS = m.WebSocket ?? m.default;
    if (WS) return WS;
  } catch (e) {
    throw new TypeError("connect: this Node has no global WebSocket and the ws package is not installed (npm install ws)", { cause: e });
  }
  throw new TypeError("connect: the ws package has no WebSocket export");
}

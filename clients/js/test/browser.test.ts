// The browser entry stays browser-clean: dist/index.js and everything it
// imports name only each other (no node: module, no package, no ws).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist");

test("the browser entry imports only its own modules", () => {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(join(dist, file), "utf8");
    for (const m of src.matchAll(/(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
      const spec = m[1] ?? m[2]!;
      assert.match(spec, /^\.\/[\w-]+\.js$/, `${file} imports ${spec}`);
      visit(spec.slice(2));
    }
    assert.doesNotMatch(src, /\bimport\s*\(/, `${file} has a dynamic import`);
    assert.doesNotMatch(src, /\brequire\s*\(|\bprocess\.|\bBuffer\b/, `${file} uses a Node global`);
  };
  visit("index.js");
  assert.deepEqual([...seen].sort(), ["client.js", "errors.js", "frames.js", "index.js", "options.js", "subscription.js"]);
});

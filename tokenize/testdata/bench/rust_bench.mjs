// rust_bench.mjs TOKENIZER_JSON FILE...: encode throughput of the Rust tokenizers crate (Node binding),
// one call on the whole file and encodeBatch on 4 KB documents, as BenchmarkEncode does.
import fs from "node:fs";
import zlib from "node:zlib";
import { createRequire } from "node:module";
const require = createRequire((process.env.NODE_MODULES || "/tmp/tok/node_modules") + "/noop.js");
const { Tokenizer } = require("@anush008/tokenizers");
const [tokPath, ...files] = process.argv.slice(2);
const buf = fs.readFileSync(tokPath);
const tk = Tokenizer.fromString(tokPath.endsWith(".gz") ? zlib.gunzipSync(buf).toString("utf8") : buf.toString("utf8"));
function chunks(s, n) { const out = []; while (s.length > 0) { let c = s; if (Buffer.byteLength(s) > n) { let k = s.lastIndexOf("\n", n); c = k > 0 ? s.slice(0, k + 1) : s.slice(0, n); } out.push(c); s = s.slice(c.length); } return out; }
for (const f of files) {
  const text = fs.readFileSync(f, "utf8");
  const bytes = Buffer.byteLength(text);
  await tk.encode(text, null, { addSpecialTokens: false });
  let reps = 5, t0 = process.hrtime.bigint(), n = 0;
  for (let i = 0; i < reps; i++) { const e = await tk.encode(text, null, { addSpecialTokens: false }); n = e.getIds().length; }
  let dt = Number(process.hrtime.bigint() - t0) / 1e9 / reps;
  const docs = chunks(text, 4096);
  await tk.encodeBatch(docs, { addSpecialTokens: false });
  let t1 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) await tk.encodeBatch(docs, { addSpecialTokens: false });
  let dt2 = Number(process.hrtime.bigint() - t1) / 1e9 / reps;
  console.log(`${tokPath.split("/").slice(-2).join("/")} ${f.split("/").pop()} ${bytes} bytes ${n} tokens: single ${(bytes / dt / 1e6).toFixed(2)} MB/s, batch(${docs.length} docs) ${(bytes / dt2 / 1e6).toFixed(2)} MB/s`);
}

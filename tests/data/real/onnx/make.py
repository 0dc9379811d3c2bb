#!/usr/bin/env python3
"""Writes the ONNX models beside this script with Debian's python3-onnx (1.12)
and python3-torch (1.13, torch.onnx.export), and expected.json: every
initializer's name, dtype, shape and values as onnx.numpy_helper reads them
(the reference the reader's test compares with). Deterministic (seeded); run
from anywhere: /usr/bin/python3 make.py

- torch_mlp.onnx: torch.onnx.export of a two-layer MLP (raw_data initializers,
  as PyTorch writes them).
- typed.onnx: initializers in the typed fields: float_data, double_data,
  int64_data, uint64_data, and int32_data holding INT8, UINT16, BOOL and
  FLOAT16 bit patterns (onnx.helper.make_tensor with raw=False), plus a STRING
  tensor (skipped by the reader).
- external.onnx + external.onnx.data: the MLP's weights as external data
  (onnx.save_model(save_as_external_data=True)), one file, offsets and lengths.
- subgraph.onnx: an If node whose branches hold their own initializers.
- sparse.onnx: a sparse initializer (values, linear indices, dims).
"""
import json
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(0)
expected = {}


def record(file, tensors):
    expected[file] = [{"name": n, "dtype": str(a.dtype), "shape": list(a.shape),
                       "values": [float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1)]}
                      for n, a in tensors]


# 1. torch.onnx.export
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
path = os.path.join(here, "torch_mlp.onnx")
torch.onnx.export(net, torch.zeros(2, 6), path, input_names=["x"], output_names=["y"],
                  do_constant_folding=False)
m = onnx.load(path)
record("torch_mlp.onnx", [(t.name, numpy_helper.to_array(t)) for t in m.graph.initializer])

# 2. typed fields
def typed(name, onnx_type, array, vals=None):
    return helper.make_tensor(name, onnx_type, list(array.shape),
                              vals if vals is not None else array.reshape(-1).tolist(), raw=False)

arrays = {
    "w_float": rng.normal(size=(3, 4)).astype(np.float32),
    "w_double": rng.normal(size=(2, 3)),
    "steps_int64": np.array([[1, -2, 3], [40000000000, 5, -6]], dtype=np.int64),
    "ids_uint64": np.array([1, 2, 2**63 + 5], dtype=np.uint64),
    "q_int8": np.array([-128, -1, 0, 7, 127], dtype=np.int8),
    "c_uint16": np.array([0, 1, 65535], dtype=np.uint16),
    "mask_bool": np.array([[True, False], [False, True]]),
    "h_float16": rng.normal(size=(4,)).astype(np.float16),
}
inits = [
    typed("w_float", TensorProto.FLOAT, arrays["w_float"]),
    typed("w_double", TensorProto.DOUBLE, arrays["w_double"]),
    typed("steps_int64", TensorProto.INT64, arrays["steps_int64"]),
    typed("ids_uint64", TensorProto.UINT64, arrays["ids_uint64"]),
    typed("q_int8", TensorProto.INT8, arrays["q_int8"]),
    typed("c_uint16", TensorProto.UINT16, arrays["c_uint16"]),
    typed("mask_bool", TensorProto.BOOL, arrays["mask_bool"]),
    # FLOAT16: make_tensor stores the values' bit patterns in int32_data
    typed("h_float16", TensorProto.FLOAT16, arrays["h_float16"]),
    helper.make_tensor("labels", TensorProto.STRING, [2], [b"cat", b"dog"]),
]
graph = helper.make_graph([helper.make_node("Identity", ["w_float"], ["y"])], "typed", [],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])], initializer=inits)
model = helper.make_model(graph, producer_name="gradcheck-tests")
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "typed.onnx"))
m = onnx.load(os.path.join(here, "typed.onnx"))
record("typed.onnx", [(t.name, numpy_helper.to_array(t)) for t in m.graph.initializer if t.data_type != TensorProto.STRING])

# 3. external data
m = onnx.load(os.path.join(here, "torch_mlp.onnx"))
for f in ("external.onnx", "external.onnx.data"):
    if os.path.exists(os.path.join(here, f)):
        os.remove(os.path.join(here, f))
onnx.save_model(m, os.path.join(here, "external.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                location="external.onnx.data", size_threshold=0)
m = onnx.load(os.path.join(here, "external.onnx"))  # loads the external data back
record("external.onnx", [(t.name, numpy_helper.to_array(t)) for t in m.graph.initializer])

# 4. subgraphs: If with initializers in each branch
then_w = rng.normal(size=(2, 2)).astype(np.float32)
else_w = rng.normal(size=(3,)).astype(np.float32)
then_g = helper.make_graph([helper.make_node("Identity", ["tw"], ["out_then"])], "then_branch", [],
                           [helper.make_tensor_value_info("out_then", TensorProto.FLOAT, [2, 2])],
                           initializer=[numpy_helper.from_array(then_w, "tw")])
else_g = helper.make_graph([helper.make_node("Identity", ["ew"], ["out_else"])], "else_branch", [],
                           [helper.make_tensor_value_info("out_else", TensorProto.FLOAT, [3])],
                           initializer=[numpy_helper.from_array(else_w, "ew")])
cond = np.array(True)
node = helper.make_node("If", ["cond"], ["z"], name="branch", then_branch=then_g, else_branch=else_g)
graph = helper.make_graph([node], "sub", [], [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
                          initializer=[numpy_helper.from_array(cond, "cond")])
model = helper.make_model(graph, producer_name="gradcheck-tests")
onnx.save(model, os.path.join(here, "subgraph.onnx"))
record("subgraph.onnx", [("cond", cond), ("branch.then_branch/tw", then_w), ("branch.else_branch/ew", else_w)])

# 5. a sparse initializer
dense = np.zeros((3, 4), dtype=np.float32)
idx = np.array([1, 6, 11], dtype=np.int64)
dense.reshape(-1)[idx] = [1.5, -2.0, 0.25]
sp = helper.make_sparse_tensor(numpy_helper.from_array(dense.reshape(-1)[idx], "sp"),
                               numpy_helper.from_array(idx, "sp_indices"), [3, 4])
graph = helper.make_graph([helper.make_node("Constant", [], ["y"], sparse_value=sp)], "sparse", [],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])], sparse_initializer=[sp])
model = helper.make_model(graph, producer_name="gradcheck-tests")
onnx.save(model, os.path.join(here, "sparse.onnx"))
record("sparse.onnx", [("sp", dense)])

with open(os.path.join(here, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")

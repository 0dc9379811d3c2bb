#!/usr/bin/env python3
"""Writes Keras weight files beside this script with Debian's python3-h5py (3.7,
HDF5 1.10), in exactly the layouts Keras's own saving code writes (Keras is not
packaged in Debian), and expected.json: every tensor's name as weightstats
shows it, its dtype, shape and values as h5py reads them back. Deterministic
(seeded); run from anywhere: /usr/bin/python3 make.py

- keras2_weights.h5: Keras 2 `model.save_weights("x.h5")`
  (keras/src/saving/legacy/hdf5_format.py, save_weights_to_hdf5_group): root
  attributes layer_names, backend, keras_version; per layer a group with the
  attribute weight_names ("dense/kernel:0"), each the path of a dataset in it.
- keras2_model.h5: Keras 2 `model.save("x.h5")`: the same under model_weights,
  a model_config attribute, and Adam's variables under optimizer_weights.
- keras2_big_endian_gzip.h5: the weights layout with big-endian float64 and
  gzip-compressed, chunked float32 datasets (read through HDF5, not in place).
- keras3.weights.h5 and keras3.keras: Keras 3 (keras/src/saving/saving_lib.py,
  H5IOStore): groups by object path, layers/<name>/vars/<i>, optimizer/vars/<i>;
  the .keras file is a zip of config.json, metadata.json and model.weights.h5,
  whose config names the Dense layers' variables (dense/kernel, dense/bias).
"""
import io
import json
import os
import zipfile

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(0)
expected = {}


def dense(n_in, n_out, dtype=np.float32):
    return (rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype(dtype), (0.01 * rng.normal(size=(n_out,))).astype(dtype)


layers = {"dense": dense(8, 16), "dense_1": dense(16, 4)}
bn = {"gamma": np.ones(16, np.float32), "beta": np.zeros(16, np.float32),
      "moving_mean": (0.1 * rng.normal(size=16)).astype(np.float32),
      "moving_variance": rng.uniform(0.5, 1.5, size=16).astype(np.float32)}


def keras2_group(g, compress=False, big_endian=False):
    names = ["dense", "batch_normalization", "dense_1", "dropout"]
    g.attrs["layer_names"] = np.array([n.encode() for n in names])
    g.attrs["backend"] = b"tensorflow"
    g.attrs["keras_version"] = b"2.13.1"
    out = []
    for layer in names:
        lg = g.create_group(layer)
        if layer.startswith("dense"):
            k, b = layers[layer]
            weights = [(f"{layer}/kernel:0", k), (f"{layer}/bias:0", b)]
        elif layer == "batch_normalization":
            weights = [(f"{layer}/{n}:0", v) for n, v in bn.items()]
        else:
            weights = []  # a layer without weights: an empty weight_names
        lg.attrs["weight_names"] = np.array([n.encode() for n, _ in weights], dtype="S")
        for n, v in weights:
            if big_endian and v.ndim == 1:
                v = v.astype(">f8")
            kw = {"compression": "gzip", "chunks": True} if compress and v.ndim == 2 else {}
            lg.create_dataset(n, data=v, **kw)
            out.append((n[:-2], v))
    return out


def record(file, tensors):
    expected[file] = [{"name": n, "dtype": str(np.asarray(v).dtype.newbyteorder("=")), "shape": list(np.shape(v)),
                       "values": [float(x) for x in np.asarray(v, dtype=np.float64).reshape(-1)]} for n, v in tensors]


with h5py.File(os.path.join(here, "keras2_weights.h5"), "w") as f:
    record("keras2_weights.h5", keras2_group(f))

with h5py.File(os.path.join(here, "keras2_model.h5"), "w") as f:
    f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"name": "sequential"}}).encode()
    f.attrs["keras_version"] = b"2.13.1"
    tensors = keras2_group(f.create_group("model_weights"))
    og = f.create_group("optimizer_weights")
    opt = [("Adam/iter:0", np.array(120, dtype=np.int64))]
    for n, v in tensors:
        if "kernel" in n or "bias" in n:
            opt.append((f"Adam/{n}/m:0", (1e-3 * rng.normal(size=v.shape)).astype(np.float32)))
            opt.append((f"Adam/{n}/v:0", (1e-7 * rng.uniform(size=v.shape)).astype(np.float32)))
    og.attrs["weight_names"] = np.array([n.encode() for n, _ in opt])
    for n, v in opt:
        og.create_dataset(n, data=v)
    record("keras2_model.h5", tensors + [("optimizer_weights/" + n[:-2], v) for n, v in opt])

with h5py.File(os.path.join(here, "keras2_big_endian_gzip.h5"), "w") as f:
    record("keras2_big_endian_gzip.h5", keras2_group(f, compress=True, big_endian=True))


def keras3(f):
    out = []
    for layer, (k, b) in layers.items():
        vg = f.create_group(f"layers/{layer}/vars")
        for i, v in enumerate((k, b)):
            vg.create_dataset(str(i), data=v)
            out.append((f"layers/{layer}/vars/{i}", v))
    f.create_group("layers/dropout/vars")
    og = f.create_group("optimizer/vars")
    for i, v in enumerate([np.array(7, dtype=np.int64), np.array(1e-3, dtype=np.float32)]):
        og.create_dataset(str(i), data=v)
        out.append((f"optimizer/vars/{i}", v))
    return sorted(out, key=lambda t: t[0])


with h5py.File(os.path.join(here, "keras3.weights.h5"), "w") as f:
    record("keras3.weights.h5", keras3(f))

buf = io.BytesIO()
with h5py.File(buf, "w") as f:
    tensors = keras3(f)
with zipfile.ZipFile(os.path.join(here, "keras3.keras"), "w") as z:
    z.writestr(zipfile.ZipInfo("metadata.json", (2024, 1, 1, 0, 0, 0)), json.dumps({"keras_version": "3.3.3"}))
    # config.json as Keras 3 writes a Sequential model's (the parts the reader uses: each
    # layer's class and name, and the options that decide its variables)
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "config": {"name": "input_layer", "batch_shape": [None, 8]}},
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 16, "use_bias": True}},
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense_1", "units": 4, "use_bias": True}},
        {"module": "keras.layers", "class_name": "Dropout", "config": {"name": "dropout", "rate": 0.5}}]}}
    z.writestr(zipfile.ZipInfo("config.json", (2024, 1, 1, 0, 0, 0)), json.dumps(config))
    z.writestr(zipfile.ZipInfo("model.weights.h5", (2024, 1, 1, 0, 0, 0)), buf.getvalue())
# In a .keras archive the config names each Dense layer's variables: kernel, bias.
renamed = [(n.replace("layers/", "", 1).replace("/vars/0", "/kernel").replace("/vars/1", "/bias"), v)
           if n.startswith("layers/") else (n, v) for n, v in tensors]
record("keras3.keras", renamed)

with open(os.path.join(here, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")

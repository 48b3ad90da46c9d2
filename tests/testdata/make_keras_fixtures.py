#!/usr/bin/python3
"""Keras model files for rnnserve's Keras importer (issue 18), without Keras.

Run with Debian's Python (python3-h5py, numpy) and Node.js with @tensorflow/tfjs:

    npm install --ignore-scripts --prefix build/tfjs @tensorflow/tfjs@4.22.0
    /usr/bin/python3 tests/testdata/make_keras_fixtures.py

There is no Keras or TensorFlow in Debian, so the files are written with h5py in
the exact layouts real Keras versions write (../shared/KERAS_FORMATS.md, from
dumps of real files of Keras 2.1.1 to 3.15: attribute string types, layer and
weight naming, optimizer weights, the .keras zip), and the expected outputs come
from TensorFlow.js layers (a port of Keras that builds the model from the same
config JSON: ``tf.models.modelFromJSON`` on the pure-JS CPU backend, through
``tfjs_run.js`` beside this script) wherever tfjs computes the layers as Keras
does, else from a float64 NumPy implementation of the Keras layer equations
below: tfjs 4.22 has no GRU reset_after=True and only Keras 2's hard_sigmoid.
Where tfjs runs, the NumPy equations must agree with it within 1e-6 (they agree
within 5e-7), so both references check each other. Never from rnnserve. The
manifest's ``reference`` column says which one each fixture uses.
``--tfjs DIR`` names the node_modules folder holding @tensorflow/tfjs (default:
build/tfjs/node_modules at the repository root); ``--no-tfjs`` uses NumPy for
every fixture. Deterministic (fixed seeds); wipes and rewrites ``keras/`` and
``keras_bad/`` next to itself.

Layout
======
``keras/<fixture>/``: ``model.keras`` or ``model.h5`` (one of them; some
``model.keras`` files are legacy HDF5, as TF 2.10 users saved them), and
``input_<k>.npy`` / ``expected_<k>.npy`` for k = 0, 1, 2 (T = 1, 7, 60) as the
native fixtures (make_fixtures.py): expected_k is one row per step of a session
stepped from zeros (the output a step returns). Models whose last recurrent
layer has return_sequences=False also have ``expected_final_<k>.npy`` [1, out]:
what the whole-sequence call returns (Keras' predict). go_backwards models
return rows in the order they were computed (reversed), as Keras does.

TF.js layers models (``model.json`` + ``group1-shard<i>of<n>.bin``) in both
writers' layouts: tensorflowjs_converter from tf.keras (config under
``modelTopology.model_config``, names ``lstm/lstm_cell/kernel``, shards cut
inside a weight) and tfjs-layers' own save (config at the top, names
``<layer>/<weight>``, ``keras_version`` "tfjs-layers 4.22.0").

``--resave-demos OUT``: writes a model repository at OUT with the demo models of
models/ as bundled and re-saved as ``model.keras`` (Keras 3.4.1) and
``model.h5`` (tf.keras 2.4.0): tests/server/keras_demo_test.cc runs it at test
time, serves the repository with build/bin/rnnserve and compares the streams.

``keras_bad/<case>/model.h5|model.keras|model.json``: files the importer must refuse;
tests/model/keras_model_test.cc holds the message each must name.

Keras equations (x_t row vector, kernels [in, G*H], biases [G*H]):
  LSTM (gates i, f, c, o):  z = x K + h R + b;  i, f, o = ra(z_i, z_f, z_o);
      c = f * c + i * a(z_c);  h = o * a(c)
  GRU (gates z, r, h):  reset_after=False: b [3H];
      z = ra(x K_z + b_z + h R_z), r = ra(x K_r + b_r + h R_r),
      hh = a(x K_h + b_h + (r * h) R_h)
    reset_after=True: b [2, 3H] = [input bias; recurrent bias];
      xz = x K + b[0]; rz = h R + b[1]; z = ra(xz_z + rz_z); r = ra(xz_r + rz_r);
      hh = a(xz_h + r * rz_h)
    h = z * h + (1 - z) * hh
  SimpleRNN: h = a(x K + h R + b)
  hard_sigmoid: Keras 2 clip(0.2x + 0.5, 0, 1); Keras 3 clip(x/6 + 0.5, 0, 1)
  Bidirectional(concat): [forward(x), reverse(backward(reverse(x)))] per step;
      return_sequences=False: [forward last, backward after reading x_0]
  go_backwards: the layer reads reverse(x) and returns its outputs in that order
  Dense: act(x W + b)
"""
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "keras")
BAD = os.path.join(HERE, "keras_bad")
LENGTHS = (1, 7, 60)

ASCII = h5py.string_dtype("ascii")
UTF8 = h5py.string_dtype("utf-8")

# ---------------------------------------------------------------- reference


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def activation(name, flavour):
    return {
        "tanh": np.tanh,
        "sigmoid": sigmoid,
        "relu": lambda x: np.maximum(x, 0.0),
        "linear": lambda x: x,
        "softsign": lambda x: x / (1.0 + np.abs(x)),
        "hard_sigmoid": (lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0)) if flavour == 2
        else (lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0)),
    }[name]


def run_cell(cfg, w, xs, flavour):
    """One direction over xs [T, in] from zeros: every step's h [T, H]."""
    kind, units = cfg["class"], cfg["units"]
    a = activation(cfg["activation"], flavour)
    ra = activation(cfg.get("recurrent_activation", "sigmoid"), flavour)
    kernel, rec = w[0].astype(np.float64), w[1].astype(np.float64)
    bias = w[2].astype(np.float64) if cfg["use_bias"] else None
    h = np.zeros(units)
    c = np.zeros(units)
    out = []
    H = units
    for x in xs:
        if kind == "LSTM":
            z = x @ kernel + h @ rec + (bias if bias is not None else 0.0)
            i, f, g, o = ra(z[:H]), ra(z[H:2 * H]), a(z[2 * H:3 * H]), ra(z[3 * H:])
            c = f * c + i * g
            h = o * a(c)
        elif kind == "GRU":
            if cfg["reset_after"]:
                b_in = bias[0] if bias is not None else 0.0
                b_rec = bias[1] if bias is not None else 0.0
                xz = x @ kernel + b_in
                rz = h @ rec + b_rec
                z = ra(xz[:H] + rz[:H])
                r = ra(xz[H:2 * H] + rz[H:2 * H])
                hh = a(xz[2 * H:] + r * rz[2 * H:])
            else:
                b = bias if bias is not None else np.zeros(3 * H)
                xz = x @ kernel + b
                z = ra(xz[:H] + h @ rec[:, :H])
                r = ra(xz[H:2 * H] + h @ rec[:, H:2 * H])
                hh = a(xz[2 * H:] + (r * h) @ rec[:, 2 * H:])
            h = z * h + (1.0 - z) * hh
        else:
            h = a(x @ kernel + h @ rec + (bias if bias is not None else 0.0))
        out.append(h)
    return np.array(out)


def reference(model, xs, flavour):
    """(every-step outputs [T, out], whole-sequence output) of the model."""
    x = np.asarray(xs)
    if model["embedding"] is not None:
        x = model["embedding"][x].astype(np.float64)
    else:
        x = x.astype(np.float64)
    final = None
    for layer in model["recurrent"]:
        cfg = layer["cfg"]
        if layer["bidirectional"]:
            fwd = run_cell(cfg, layer["weights"][0], x, flavour)
            bwd = run_cell(cfg, layer["weights"][1], x[::-1], flavour)
            final = np.concatenate([fwd[-1], bwd[-1]])
            x = np.concatenate([fwd, bwd[::-1]], axis=1)
        else:
            seq = x[::-1] if cfg["go_backwards"] else x
            x = run_cell(cfg, layer["weights"], seq, flavour)
            final = x[-1]
    steps = x
    whole = x if model["recurrent"][-1]["cfg"]["return_sequences"] else final[None, :]
    dense = model["dense"]
    if dense is not None:
        steps = apply_dense(dense, steps)
        whole = apply_dense(dense, whole)
    return steps, whole


def apply_dense(dense, x):
    y = x @ dense["weights"][0].astype(np.float64)
    if dense["use_bias"]:
        y = y + dense["weights"][1]
    act = dense["activation"]
    if act == "softmax":
        e = np.exp(y - y.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return activation(act, 2)(y)

# ---------------------------------------------------------------- model specs


def rnn_weights(rng, cls, units, inputs, use_bias, reset_after, scale):
    gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[cls]
    w = [rng.uniform(-scale, scale, (inputs, gates * units)).astype(np.float32),
         rng.uniform(-scale, scale, (units, gates * units)).astype(np.float32)]
    if use_bias:
        shape = (2, gates * units) if cls == "GRU" and reset_after else (gates * units,)
        w.append(rng.uniform(-scale, scale, shape).astype(np.float32))
    return w


def build(rng, spec):
    """spec: inputs, vocab (tokens) or None, layers [{class, units, ...}], dense."""
    model = {"embedding": None, "recurrent": [], "dense": None, "spec": spec}
    width = spec["inputs"]
    if spec.get("vocab"):
        model["embedding"] = rng.uniform(-1, 1, (spec["vocab"], width)).astype(np.float32)
    for layer in spec["layers"]:
        cfg = dict(layer)
        cfg.setdefault("activation", "tanh")
        if cfg["class"] != "SimpleRNN":
            cfg.setdefault("recurrent_activation", "sigmoid")
        cfg.setdefault("use_bias", True)
        cfg.setdefault("reset_after", True)
        cfg.setdefault("go_backwards", False)
        cfg.setdefault("return_sequences", True)
        bidirectional = cfg.pop("bidirectional", False)
        scale = cfg.pop("scale", 0.6)
        if bidirectional:
            weights = [rnn_weights(rng, cfg["class"], cfg["units"], width, cfg["use_bias"],
                                   cfg["reset_after"], scale) for _ in range(2)]
        else:
            weights = rnn_weights(rng, cfg["class"], cfg["units"], width, cfg["use_bias"],
                                  cfg["reset_after"], scale)
        model["recurrent"].append({"cfg": cfg, "bidirectional": bidirectional,
                                   "weights": weights, "dropout_after":
                                   layer.get("dropout_after", False)})
        cfg.pop("dropout_after", None)
        width = cfg["units"] * (2 if bidirectional else 1)
    if spec.get("dense"):
        d = dict(spec["dense"])
        d.setdefault("use_bias", True)
        w = [rng.uniform(-0.7, 0.7, (width, d["units"])).astype(np.float32)]
        if d["use_bias"]:
            w.append(rng.uniform(-0.5, 0.5, d["units"]).astype(np.float32))
        d["weights"] = w
        model["dense"] = d
    return model

# ------------------------------------------------------- Keras config JSON


class Names:
    """Keras' layer name counters: per class, from 0 (tf.keras) or 1 (Keras 2.2)."""

    def __init__(self, first):
        self.first = first
        self.counts = {}

    def __call__(self, base):
        k = self.counts.get(base, self.first)
        self.counts[base] = k + 1
        return base if k == 0 else "%s_%d" % (base, k)


SNAKE = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn", "Dense": "dense",
         "Embedding": "embedding", "Bidirectional": "bidirectional", "Dropout": "dropout",
         "InputLayer": "input_layer", "TimeDistributed": "time_distributed"}


def rnn_config(cfg, name, dialect):
    c = {"name": name, "trainable": True, "return_sequences": cfg["return_sequences"],
         "return_state": False, "go_backwards": cfg["go_backwards"], "stateful": False,
         "unroll": False, "units": cfg["units"], "activation": cfg["activation"],
         "use_bias": cfg["use_bias"],
         "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
         "dropout": 0.0, "recurrent_dropout": 0.0}
    if cfg["class"] != "SimpleRNN":
        c["recurrent_activation"] = cfg["recurrent_activation"]
    if cfg["class"] == "LSTM":
        c["unit_forget_bias"] = True
    if cfg["class"] == "GRU":
        c["reset_after"] = cfg["reset_after"]
    if dialect == "keras3":
        c["dtype"] = {"module": "keras", "class_name": "DTypePolicy",
                      "config": {"name": "float32"}, "registered_name": None}
        c["seed"] = None
        c["zero_output_for_mask"] = False
    else:
        c["dtype"] = "float32"
        c["implementation"] = 1 if dialect == "keras22" else 2
        if dialect != "keras22":
            c["time_major"] = False
    return c


def entry(class_name, config, dialect, inbound=None):
    e = {"class_name": class_name, "config": config}
    if dialect == "keras3":
        e = {"module": "keras.layers", "class_name": class_name, "config": config,
             "registered_name": None}
    if inbound is not None:
        e["name"] = config["name"]
        e["inbound_nodes"] = inbound
    return e


def keras_config(model, dialect, functional=False, input_layer=True, bare_list=False,
                 model_name="sequential"):
    """(model_config dict, [(layer name, class, weights list, cfg)] in order)."""
    names = Names(1 if dialect == "keras22" else 0)
    spec = model["spec"]
    layers = []
    weighted = []
    time = None
    feat = spec["inputs"]
    in_shape = [None, time] if spec.get("vocab") else [None, time, feat]
    shape_key = "batch_shape" if dialect == "keras3" else "batch_input_shape"
    if input_layer or functional:
        layers.append(("InputLayer", {shape_key: in_shape, "dtype": "float32",
                                      "sparse": False, "ragged": False,
                                      "name": "input_1" if functional else
                                      model_name + "_input"}))
    first = True
    if model["embedding"] is not None:
        name = names("embedding")
        c = {"name": name, "trainable": True, "input_dim": spec["vocab"],
             "output_dim": spec["inputs"], "mask_zero": False, "input_length": None}
        if first and not input_layer:
            c[shape_key] = in_shape
        first = False
        layers.append(("Embedding", c))
        weighted.append((name, "Embedding", [model["embedding"]], None))
    for layer in model["recurrent"]:
        cfg = layer["cfg"]
        base = SNAKE[cfg["class"]]
        if layer["bidirectional"]:
            name = names("bidirectional")
            inner_name = names(base)
            inner = {"class_name": cfg["class"], "config": rnn_config(cfg, inner_name, dialect)}
            c = {"name": name, "trainable": True, "layer": inner, "merge_mode": "concat"}
            if dialect == "keras3":
                inner["config"]["name"] = "forward_" + inner_name
                back = json.loads(json.dumps(inner))
                back["config"]["name"] = "backward_" + inner_name
                back["config"]["go_backwards"] = True
                c["backward_layer"] = back
            layers.append(("Bidirectional", c))
            weighted.append((name, "Bidirectional", layer["weights"][0] + layer["weights"][1],
                             dict(cfg, inner_name=inner_name)))
        else:
            name = names(base)
            c = rnn_config(cfg, name, dialect)
            if first and not input_layer and not functional:
                c[shape_key] = in_shape
            layers.append((cfg["class"], c))
            weighted.append((name, cfg["class"], layer["weights"], cfg))
        first = False
        if layer["dropout_after"]:
            layers.append(("Dropout", {"name": names("dropout"), "trainable": True,
                                       "rate": 0.2, "noise_shape": None, "seed": None}))
    if model["dense"] is not None:
        d = model["dense"]
        dense = {"name": names("dense"), "trainable": True, "units": d["units"],
                 "activation": d["activation"], "use_bias": d["use_bias"]}
        if d.get("time_distributed"):
            name = names("time_distributed")
            layers.append(("TimeDistributed", {"name": name, "trainable": True,
                                               "layer": {"class_name": "Dense",
                                                         "config": dense}}))
            weighted.append((name, "TimeDistributed", d["weights"], d))
        else:
            layers.append(("Dense", dense))
            weighted.append((dense["name"], "Dense", d["weights"], d))
    if functional:
        entries = []
        previous = None
        for cls, c in layers:
            if previous is None:
                inbound = []
            elif dialect == "keras3":
                inbound = [{"args": [{"class_name": "__keras_tensor__", "config": {
                    "shape": [None, None, 4], "dtype": "float32",
                    "keras_history": [previous, 0, 0]}}], "kwargs": {"training": False}}]
            else:
                inbound = [[[previous, 0, 0, {}]]]
            entries.append(entry(cls, c, dialect, inbound))
            previous = c["name"]
        config = {"name": "model", "layers": entries,
                  "input_layers": [[layers[0][1]["name"], 0, 0]],
                  "output_layers": [[layers[-1][1]["name"], 0, 0]]}
        root = {"class_name": "Functional" if dialect != "keras22" else "Model",
                "config": config}
    else:
        entries = [entry(cls, c, dialect) for cls, c in layers]
        if bare_list:
            root = {"class_name": "Sequential", "config": entries}
        else:
            root = {"class_name": "Sequential", "config": {"name": model_name,
                                                          "layers": entries}}
    if dialect == "keras3":
        root.update({"module": "keras", "registered_name": None})
    return root, layers, weighted

# ------------------------------------------------------- legacy HDF5 writer


def str_attr(obj, key, value, dtype):
    obj.attrs.create(key, data=np.array(value.encode() if dtype is ASCII else value,
                                        dtype=dtype))


def list_attr(obj, key, values, fixed):
    if not values:
        obj.attrs.create(key, data=np.zeros((0,), dtype=np.float64))
    elif fixed:
        obj.attrs.create(key, data=np.array([v.encode() for v in values]))  # |S<n> NULLPAD
    else:
        obj.attrs.create(key, data=np.array([v.encode() for v in values], dtype=ASCII))


def cell_name(cls):
    return {"LSTM": "lstm_cell", "GRU": "gru_cell", "SimpleRNN": "simple_rnn_cell"}[cls]


def legacy_weight_names(style, name, cls, cfg, count, model_name, cell_counter):
    """Weight names of one layer in the given version style."""
    suffix3 = ["kernel", "recurrent_kernel", "bias"][:count]
    if cls in ("Dense", "Embedding", "TimeDistributed"):
        leaves = ["embeddings"] if cls == "Embedding" else ["kernel", "bias"][:count]
        if style == "keras3":
            return ["%s/%s/%s" % (model_name, name, leaf) for leaf in leaves]
        return ["%s/%s:0" % (name, leaf) for leaf in leaves]
    if cls == "Bidirectional":
        inner = cfg["inner_name"]
        half = count // 2
        out = []
        if style not in ("keras22", "keras3"):
            cell_counter(cell_name(cfg["class"]))  # the never-built template took one
        for direction in ("forward", "backward"):
            leaves = suffix3[:half]
            if style == "keras22":
                out += ["%s/%s_%s/%s:0" % (name, direction, inner, leaf) for leaf in leaves]
            elif style == "keras3":
                out += ["%s/%s/%s_%s/%s/%s" % (model_name, name, direction, inner,
                                               cell_name(cfg["class"]), leaf) for leaf in leaves]
            else:
                cell = cell_counter(cell_name(cfg["class"]))
                out += ["%s/%s_%s/%s/%s:0" % (name, direction, inner, cell, leaf)
                        for leaf in leaves]
        return out
    if style == "keras22":
        return ["%s/%s:0" % (name, leaf) for leaf in suffix3]
    if style == "keras3":
        return ["%s/%s/%s/%s" % (model_name, name, cell_name(cls), leaf) for leaf in suffix3]
    if style == "tf215":
        return ["%s/%s/%s:0" % (name, cell_name(cls), leaf) for leaf in suffix3]
    cell = cell_counter(cell_name(cls))
    return ["%s/%s/%s:0" % (name, cell, leaf) for leaf in suffix3]


def write_legacy_h5(path, model, version, style, dialect, fixed_names, utf8_version,
                    functional=False, input_layer=True, bare_list=False, optimizer=True,
                    top_level=False, model_name="sequential", mutate=None):
    root_config, layers, weighted = keras_config(model, dialect, functional, input_layer,
                                                 bare_list, model_name)
    if mutate is not None:
        mutate(root_config, weighted)
    cell_counter = Names(0)
    with h5py.File(path, "w", libver="earliest", track_order=False) as f:
        version_type = UTF8 if utf8_version else ASCII
        str_attr(f, "backend", "tensorflow", version_type)
        str_attr(f, "keras_version", version, version_type)
        str_attr(f, "model_config", json.dumps(root_config), ASCII)
        if optimizer:
            str_attr(f, "training_config", json.dumps(
                {"loss": "mse", "optimizer_config": {"class_name": "Adam"}}), ASCII)
        mw = f.create_group("model_weights")
        str_attr(mw, "backend", "tensorflow", ASCII)
        str_attr(mw, "keras_version", version, ASCII)
        by_name = {w[0]: w for w in weighted}
        layer_names = []
        all_weights = []
        for cls, c in layers:
            if cls == "InputLayer" and not functional:
                continue  # Sequential layer_names leave the InputLayer out
            name = c["name"]
            layer_names.append(name)
            g = mw.create_group(name)
            if name not in by_name:
                list_attr(g, "weight_names", [], fixed_names)
                continue
            _, wcls, arrays, cfg = by_name[name]
            names = legacy_weight_names(style, name, wcls, cfg, len(arrays), model_name,
                                        cell_counter)
            list_attr(g, "weight_names", names, fixed_names)
            for wname, array in zip(names, arrays):
                g.create_dataset(wname, data=array)
                all_weights.append((wname, array))
        list_attr(mw, "layer_names", layer_names, fixed_names)
        if top_level:
            tl = mw.create_group("top_level_model_weights")
            list_attr(tl, "weight_names", [], fixed_names)
        if optimizer:
            # Same shapes as the model's weights: a loader that globbed
            # datasets would pick these.
            ow = f.create_group("optimizer_weights")
            onames = ["Adam/iter:0"] + ["Adam/%s/m:0" % n.replace(":0", "")
                                        for n, _ in all_weights]
            ow.create_dataset("Adam/iter:0", data=np.int64(12))
            for (n, a), on in zip(all_weights, onames[1:]):
                ow.create_dataset(on, data=np.full_like(a, 7.0))
            list_attr(ow, "weight_names", onames, fixed_names)

# ------------------------------------------------------- Keras 3 .keras writer


def write_keras3_weights(model, weighted, layers, name_attrs):
    buffer = io.BytesIO()
    counts = {}
    with h5py.File(buffer, "w") as f:
        lg = f.create_group("layers")
        by_name = {w[0]: w for w in weighted}
        for cls, c in layers:
            if cls == "InputLayer":
                continue
            base = SNAKE[cls]
            k = counts.get(base, 0)
            counts[base] = k + 1
            key = base if k == 0 else "%s_%d" % (base, k)
            g = lg.create_group(key)
            vars_group = g.create_group("vars")
            if name_attrs:
                vars_group.attrs["name"] = c["name"]
            if c["name"] not in by_name:
                continue
            _, wcls, arrays, cfg = by_name[c["name"]]
            if wcls in ("Dense", "Embedding"):
                for i, a in enumerate(arrays):
                    vars_group.create_dataset(str(i), data=a)
            elif wcls == "TimeDistributed":  # assumed layout: no real file seen
                inner = g.create_group("layer").create_group("vars")
                for i, a in enumerate(arrays):
                    inner.create_dataset(str(i), data=a)
            elif wcls == "Bidirectional":
                half = len(arrays) // 2
                for sub, part in (("forward_layer", arrays[:half]),
                                  ("backward_layer", arrays[half:]),
                                  ("layer", [])):  # the never-built template
                    s = g.create_group(sub)
                    s.create_group("vars")
                    cv = s.create_group("cell").create_group("vars")
                    for i, a in enumerate(part):
                        cv.create_dataset(str(i), data=a)
            else:
                cv = g.create_group("cell").create_group("vars")
                if name_attrs:
                    cv.attrs["name"] = cell_name(wcls)
                for i, a in enumerate(arrays):
                    cv.create_dataset(str(i), data=a)
        f.create_group("vars")
        ov = f.create_group("optimizer").create_group("vars")
        ov.create_dataset("0", data=np.int64(3))
        ov.create_dataset("1", data=np.float32(0.001))
        i = 2
        for _, _, arrays, _ in weighted:
            for a in arrays:
                for _ in ("momentum", "velocity"):
                    ov.create_dataset(str(i), data=np.full_like(a, 5.0))
                    i += 1
    return buffer.getvalue()


def write_keras_archive(path, model, version, name_attrs=False, functional=False,
                        mutate=None, members=("metadata.json", "config.json",
                                              "model.weights.h5")):
    root, layers, weighted = keras_config(model, "keras3", functional, True, False)
    root["build_config"] = {"input_shape": [None, None, model["spec"]["inputs"]]}
    root["compile_config"] = {"optimizer": "adam", "loss": "mse"}
    if mutate is not None:
        mutate(root, weighted)
    files = {
        "metadata.json": json.dumps({"keras_version": version,
                                     "date_saved": "2024-07-23@17:34:40"}),
        "config.json": json.dumps(root),
        "model.weights.h5": write_keras3_weights(model, weighted, layers, name_attrs),
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for member in members:
            info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0)
                                   if member.endswith(".json") else (2024, 7, 23, 17, 34, 40))
            info.external_attr = 0o600 << 16
            z.writestr(info, files[member])

# ------------------------------------------------------- TF.js layers writer


def write_tfjs(folder, model, version, style, shard_bytes=None, mutate=None):
    """model.json + group1-shard<i>of<n>.bin as tensorflowjs_converter writes
    a tf.keras model (style "converter": the Keras config under model_config,
    weight names without ":0") or tfjs-layers' model.save() (style "tfjs":
    the config at the top of modelTopology, names "<layer>/<weight>")."""
    dialect = "tf"
    root_config, layers, weighted = keras_config(model, dialect)
    if style == "tfjs":
        # tfjs-layers names layers <snake>_<Class><n> and has no InputLayer entry.
        root_config["config"]["layers"] = [l for l in root_config["config"]["layers"]
                                           if l["class_name"] != "InputLayer"]
    entries = []
    blob = b""
    cell_counter = Names(0)
    for name, cls, arrays, cfg in weighted:
        names = legacy_weight_names("tf24", name, cls, cfg, len(arrays), "sequential",
                                    cell_counter)
        for wname, array in zip(names, arrays):
            wname = wname.replace(":0", "")
            if style == "tfjs":
                parts = wname.split("/")
                wname = "/".join([parts[0]] + ([p for p in parts[1:-1] if p.startswith(
                    ("forward", "backward"))]) + [parts[-1]])
            entries.append({"name": wname, "shape": list(array.shape), "dtype": "float32"})
            blob += np.ascontiguousarray(array, dtype="<f4").tobytes()
    cut = shard_bytes or len(blob)
    shards = [blob[i:i + cut] for i in range(0, len(blob), cut)]
    paths = ["group1-shard%dof%d.bin" % (i + 1, len(shards)) for i in range(len(shards))]
    if style == "tfjs":
        topology = dict(root_config, keras_version="tfjs-layers 4.22.0",
                        backend="tensor_flow.js")
    else:
        topology = {"keras_version": version, "backend": "tensorflow",
                    "model_config": root_config}
    doc = {"format": "layers-model", "generatedBy": "keras v" + version,
           "convertedBy": "TensorFlow.js Converter v4.22.0", "modelTopology": topology,
           "weightsManifest": [{"paths": paths, "weights": entries}]}
    if mutate is not None:
        mutate(doc, shards)
    with open(os.path.join(folder, "model.json"), "w") as f:
        json.dump(doc, f)
    for path, shard in zip(doc["weightsManifest"][0]["paths"], shards):
        if "/" in path:
            continue
        with open(os.path.join(folder, path), "wb") as f:
            f.write(shard)

# ------------------------------------------------------- fixtures


FIXTURES = [
    # name, file, writer kwargs, spec, keras major (hard_sigmoid flavour)
    ("k220_lstm_bare_list", "model.h5",
     dict(version="2.2.0", style="keras22", dialect="keras22", fixed_names=True,
          utf8_version=False, input_layer=False, bare_list=True),
     {"inputs": 3, "layers": [{"class": "LSTM", "units": 5, "activation": "relu",
                               "recurrent_activation": "hard_sigmoid", "scale": 1.5,
                               "return_sequences": False}],
      "dense": {"units": 2, "activation": "linear"}}, 2),
    ("k224_gru_reset_before_tokens", "model.h5",
     dict(version="2.2.4", style="keras22", dialect="keras22", fixed_names=True,
          utf8_version=False, input_layer=False),
     {"inputs": 4, "vocab": 9, "layers": [{"class": "GRU", "units": 6, "reset_after": False,
                                           "recurrent_activation": "hard_sigmoid",
                                           "scale": 1.2, "return_sequences": False}],
      "dense": {"units": 5, "activation": "softmax"}}, 2),
    ("k224_simplernn_stack", "model.h5",
     dict(version="2.2.4", style="keras22", dialect="keras22", fixed_names=True,
          utf8_version=False, input_layer=False),
     {"inputs": 4, "layers": [{"class": "SimpleRNN", "units": 5, "activation": "relu",
                               "dropout_after": True},
                              {"class": "SimpleRNN", "units": 3, "use_bias": False}],
      "dense": {"units": 2, "activation": "tanh"}}, 2),
    ("k224_bilstm_tokens", "model.h5",
     dict(version="2.2.4", style="keras22", dialect="keras22", fixed_names=True,
          utf8_version=False, input_layer=False),
     {"inputs": 3, "vocab": 7, "layers": [{"class": "LSTM", "units": 4, "bidirectional": True,
                                           "return_sequences": False}],
      "dense": {"units": 1, "activation": "sigmoid"}}, 2),
    ("k240_gru_reset_after_x2", "model.h5",
     dict(version="2.4.0", style="tf24", dialect="tf", fixed_names=True, utf8_version=True),
     {"inputs": 2, "layers": [{"class": "GRU", "units": 5, "dropout_after": True},
                              {"class": "GRU", "units": 4, "return_sequences": False}],
      "dense": {"units": 1, "activation": "linear"}}, 2),
    ("k2100_bilstm_hdf5_named_keras", "model.keras",
     dict(version="2.10.0", style="tf24", dialect="tf", fixed_names=False, utf8_version=True,
          top_level=True),
     {"inputs": 3, "layers": [{"class": "LSTM", "units": 4, "bidirectional": True,
                               "return_sequences": True},
                              {"class": "LSTM", "units": 3, "bidirectional": True,
                               "return_sequences": True}],
      "dense": {"units": 2, "activation": "relu"}}, 2),
    ("k2150_functional_gru_lstm", "model.h5",
     dict(version="2.15.0", style="tf215", dialect="tf", fixed_names=False, utf8_version=True,
          functional=True, top_level=True),
     {"inputs": 3, "layers": [{"class": "GRU", "units": 4, "use_bias": False},
                              {"class": "LSTM", "units": 5, "activation": "softsign"}],
      "dense": {"units": 3, "activation": "linear", "use_bias": False}}, 2),
    ("k380_legacy_go_backwards", "model.h5",
     dict(version="3.8.0", style="keras3", dialect="keras3", fixed_names=False,
          utf8_version=True, top_level=True),
     {"inputs": 3, "layers": [{"class": "LSTM", "units": 4, "go_backwards": True,
                               "recurrent_activation": "hard_sigmoid", "scale": 1.5},
                              {"class": "GRU", "units": 3, "go_backwards": True}]}, 3),
    ("k341_keras_lstm_stack", "model.keras", dict(version="3.4.1"),
     {"inputs": 4, "layers": [{"class": "LSTM", "units": 6, "dropout_after": True},
                              {"class": "LSTM", "units": 5, "return_sequences": False,
                               "dropout_after": True}],
      "dense": {"units": 1, "activation": "linear"}}, 3),
    ("k3150_keras_gru_hard_sigmoid", "model.keras", dict(version="3.15.0", name_attrs=True),
     {"inputs": 3, "layers": [{"class": "GRU", "units": 5, "dropout_after": True,
                               "recurrent_activation": "hard_sigmoid", "scale": 2.0},
                              {"class": "GRU", "units": 4, "reset_after": False}],
      "dense": {"units": 2, "activation": "sigmoid"}}, 3),
    ("k305_keras_bigru", "model.keras", dict(version="3.0.5"),
     {"inputs": 3, "layers": [{"class": "GRU", "units": 4, "bidirectional": True,
                               "return_sequences": False}]}, 3),
    ("k350_keras_functional_tokens", "model.keras", dict(version="3.5.0", functional=True),
     {"inputs": 4, "vocab": 11, "layers": [{"class": "SimpleRNN", "units": 5},
                                            {"class": "LSTM", "units": 4}],
      "dense": {"units": 6, "activation": "softmax"}}, 3),
    ("k231_model_bilstm_time_distributed", "model.h5",
     dict(version="2.3.1", style="keras22", dialect="keras22", fixed_names=True,
          utf8_version=False, functional=True),
     {"inputs": 3, "layers": [{"class": "LSTM", "units": 4, "bidirectional": True}],
      "dense": {"units": 2, "activation": "linear", "time_distributed": True}}, 2),
    # Two shards cut inside a weight, as the converter's 4 MB shards are.
    ("tfjs_converter_gru_lstm", "model.json",
     dict(version="2.15.0", style="converter", shard_bytes=1000),
     {"inputs": 3, "layers": [{"class": "GRU", "units": 5, "dropout_after": True},
                              {"class": "LSTM", "units": 4, "return_sequences": False,
                               "recurrent_activation": "hard_sigmoid", "scale": 1.5}],
      "dense": {"units": 2, "activation": "softmax"}}, 2),
    ("tfjs_layers_bilstm_tokens", "model.json", dict(version="tfjs-layers 4.22.0", style="tfjs"),
     {"inputs": 3, "vocab": 8, "layers": [{"class": "LSTM", "units": 4, "bidirectional": True},
                                          {"class": "SimpleRNN", "units": 3}],
      "dense": {"units": 1, "activation": "linear"}}, 2),
]


def make_inputs(rng, spec):
    out = []
    for T in LENGTHS:
        if spec.get("vocab"):
            out.append(rng.integers(0, spec["vocab"], T).astype(np.int64))
        else:
            out.append(rng.standard_normal((T, spec["inputs"])).astype(np.float32))
    return out


def write_file(path, filename, kwargs, model):
    target = os.path.join(path, filename)
    if filename == "model.json":
        write_tfjs(path, model, **kwargs)
    elif "style" in kwargs:
        write_legacy_h5(target, model, **kwargs)
    else:
        write_keras_archive(target, model, **kwargs)


# ------------------------------------------------------- TF.js reference


def tfjs_supports(model, flavour):
    """Whether tfjs-layers 4.22 computes the model as Keras does: it has no GRU
    reset_after=True, and its hard_sigmoid is Keras 2's 0.2x + 0.5."""
    for layer in model["recurrent"]:
        cfg = layer["cfg"]
        if cfg["class"] == "GRU" and cfg["reset_after"]:
            return False
        if flavour == 3 and cfg.get("recurrent_activation") == "hard_sigmoid":
            return False
    return True


def tfjs_modules():
    """-> the node_modules folder holding @tensorflow/tfjs, or None for --no-tfjs."""
    if "--no-tfjs" in sys.argv:
        return None
    if "--tfjs" in sys.argv:
        folder = sys.argv[sys.argv.index("--tfjs") + 1]
    else:
        folder = os.path.join(HERE, "..", "..", "build", "tfjs", "node_modules")
    if not os.path.isdir(os.path.join(folder, "@tensorflow", "tfjs")):
        sys.exit("no @tensorflow/tfjs in %s: `npm install --prefix %s --ignore-scripts "
                 "@tensorflow/tfjs@4.22.0`, or --tfjs DIR, or --no-tfjs" % (
                     folder, os.path.dirname(folder)))
    return folder


def tfjs_run(modules, model, inputs, every_step):
    """The model's outputs for each input, computed by tfjs_run.js. every_step:
    the last recurrent layer returns sequences (a session's per-step rows)."""
    model = dict(model, recurrent=[dict(l, cfg=dict(l["cfg"])) for l in model["recurrent"]])
    if every_step:
        model["recurrent"][-1]["cfg"]["return_sequences"] = True
    # tf.keras 2.x's Sequential dialect, which tfjs-layers reads; the
    # functional and Keras 3 dialects compute the same layers.
    root, _, weighted = keras_config(dict(model, spec=dict(model["spec"])), "tf")
    weights = [{"shape": list(a.shape), "values": a.astype(np.float64).ravel().tolist()}
               for _, _, arrays, _ in weighted for a in arrays]
    tokens = bool(model["spec"].get("vocab"))
    job = {"model_config": root, "weights": weights,
           "inputs": [{"tokens": tokens, "shape": [1] + list(np.shape(x)),
                       "values": np.asarray(x).ravel().tolist()} for x in inputs]}
    with tempfile.TemporaryDirectory() as scratch:
        job_path = os.path.join(scratch, "job.json")
        out_path = os.path.join(scratch, "out.json")
        with open(job_path, "w") as f:
            json.dump(job, f)
        run = subprocess.run(["node", os.path.join(HERE, "tfjs_run.js"), job_path, out_path],
                             env=dict(os.environ, NODE_PATH=modules), capture_output=True,
                             text=True, timeout=300)
        if run.returncode != 0:
            sys.exit("tfjs_run.js failed:\n" + run.stderr)
        with open(out_path) as f:
            outs = json.load(f)
    return [np.array(o["values"], np.float64).reshape(o["shape"][1:]) for o in outs]


def make_fixture(name, filename, kwargs, spec, flavour, manifest, modules):
    rng = np.random.default_rng(sum(map(ord, name)))
    model = build(rng, spec)
    path = os.path.join(OUT, name)
    os.makedirs(path)
    write_file(path, filename, kwargs, model)
    streaming = not any(l["bidirectional"] or l["cfg"]["go_backwards"]
                        for l in model["recurrent"])
    final = not model["recurrent"][-1]["cfg"]["return_sequences"]
    inputs = make_inputs(rng, spec)
    references = [reference(model, xs, flavour) for xs in inputs]
    source = "numpy"
    if modules is not None and tfjs_supports(model, flavour):
        # tfjs is the reference; the float64 NumPy equations must agree with it.
        tf_steps = tfjs_run(modules, model, inputs, every_step=True)
        tf_whole = tfjs_run(modules, model, inputs, every_step=False) if final else tf_steps
        diff = 0.0
        for (steps, whole), s, w in zip(references, tf_steps, tf_whole):
            diff = max(diff, np.abs(steps - s).max(), np.abs(whole - w).max())
        assert diff < 1e-6, "%s: tfjs and NumPy differ by %g" % (name, diff)
        references = list(zip(tf_steps, tf_whole))
        source = "tfjs"
    for k, (xs, (steps, whole)) in enumerate(zip(inputs, references)):
        np.save(os.path.join(path, "input_%d.npy" % k), xs)
        # Every step's output as return_sequences=True would give it: what a
        # session's steps return (and, for whole-sequence-only models, the
        # rows of a return_sequences model).
        np.save(os.path.join(path, "expected_%d.npy" % k), steps.astype(np.float32))
        if final:
            np.save(os.path.join(path, "expected_final_%d.npy" % k), whole.astype(np.float32))
    out = len(model["dense"]["weights"][0][0]) if model["dense"] else (
        model["recurrent"][-1]["cfg"]["units"] *
        (2 if model["recurrent"][-1]["bidirectional"] else 1))
    manifest.append("%-32s %-9s %-6s %7d %8d  %-9s %-11s %s" % (
        name, "yes" if streaming else "no", "tokens" if spec.get("vocab") else "float",
        spec["inputs"], out, source, filename, kwargs["version"]))


# ------------------------------------------------------- files to refuse

SIMPLE = {"inputs": 3, "layers": [{"class": "LSTM", "units": 4}],
          "dense": {"units": 2, "activation": "linear"}}


def set_layer_option(index, key, value):
    def mutate(root, weighted):
        layers = root["config"]["layers"] if isinstance(root["config"], dict) else root["config"]
        layers[index]["config"][key] = value
    return mutate


def replace_layer(index, new):
    def mutate(root, weighted):
        root["config"]["layers"][index] = new
    return mutate


def insert_layer(index, new):
    def mutate(root, weighted):
        root["config"]["layers"].insert(index, new)
    return mutate


def make_bad(manifest):
    rng = np.random.default_rng(7)
    tf = dict(version="2.4.0", style="tf24", dialect="tf", fixed_names=True, utf8_version=True)
    cases = []

    def legacy(name, spec=SIMPLE, **kwargs):
        model = build(rng, spec)
        path = os.path.join(BAD, name)
        os.makedirs(path)
        write_legacy_h5(os.path.join(path, "model.h5"), model, **dict(tf, **kwargs))
        return os.path.join(path, "model.h5")

    def archive(name, spec=SIMPLE, **kwargs):
        model = build(rng, spec)
        path = os.path.join(BAD, name)
        os.makedirs(path)
        write_keras_archive(os.path.join(path, "model.keras"), model,
                            **dict(dict(version="3.4.1"), **kwargs))
        return os.path.join(path, "model.keras")

    legacy("masking", mutate=insert_layer(1, {"class_name": "Masking", "config": {
        "name": "masking", "mask_value": 0.0}}))
    bi = {"inputs": 3, "layers": [{"class": "LSTM", "units": 4, "bidirectional": True}]}
    legacy("merge_mode_sum", spec=bi, mutate=set_layer_option(1, "merge_mode", "sum"))
    legacy("dense_elu", mutate=set_layer_option(2, "activation", "elu"))
    legacy("lstm_gelu", mutate=set_layer_option(1, "recurrent_activation", "gelu"))
    legacy("return_state", mutate=set_layer_option(1, "return_state", True))
    legacy("missing_units", mutate=lambda root, w: root["config"]["layers"][1]["config"]
           .pop("units"))
    stacked = {"inputs": 3, "layers": [{"class": "LSTM", "units": 4, "return_sequences": False},
                                       {"class": "LSTM", "units": 3}]}
    legacy("stacked_last_step", spec=stacked)
    mixed = {"inputs": 3, "layers": [{"class": "LSTM", "units": 4, "go_backwards": True},
                                     {"class": "LSTM", "units": 3}]}
    legacy("mixed_go_backwards", spec=mixed)
    emb = {"inputs": 3, "vocab": 5, "layers": [{"class": "GRU", "units": 4}]}
    legacy("mask_zero", spec=emb, mutate=set_layer_option(1, "mask_zero", True))
    legacy("dense_first", mutate=insert_layer(1, {"class_name": "Dense", "config": {
        "name": "dense_0", "units": 3, "activation": "linear", "use_bias": True}}))
    legacy("wrong_units", mutate=set_layer_option(1, "units", 5))
    # Unbuilt (Keras 3.13): every weight_names list empty.
    path = legacy("unbuilt")
    with h5py.File(path, "a") as f:
        for name in f["model_weights"]:
            g = f["model_weights"][name]
            for child in list(g):
                del g[child]
            list_attr(g, "weight_names", [], False)
    path = legacy("nan_weight")
    with h5py.File(path, "a") as f:
        d = f["model_weights/lstm/lstm/lstm_cell/recurrent_kernel:0"]
        values = d[...]
        values[1, 2] = np.nan
        d[...] = values
    path = legacy("weight_renamed")
    with h5py.File(path, "a") as f:
        g = f["model_weights/lstm"]
        names = [n.decode() for n in g.attrs["weight_names"]]
        list_attr(g, "weight_names", [names[1], names[0], names[2]], True)
    # Weights-only (save_weights): layer groups at the root, no model_config.
    os.makedirs(os.path.join(BAD, "weights_only"))
    with h5py.File(os.path.join(BAD, "weights_only", "model.h5"), "w") as f:
        str_attr(f, "backend", "tensorflow", ASCII)
        str_attr(f, "keras_version", "2.1.1", ASCII)
        list_attr(f, "layer_names", ["gru_1"], True)
        g = f.create_group("gru_1")
        list_attr(g, "weight_names", ["gru_1/kernel:0"], True)
        g.create_dataset("gru_1/kernel:0", data=np.zeros((3, 12), np.float32))
    # A Keras 3 weights file on its own.
    os.makedirs(os.path.join(BAD, "keras3_weights_only"))
    model = build(rng, SIMPLE)
    _, layers, weighted = keras_config(model, "keras3")
    with open(os.path.join(BAD, "keras3_weights_only", "model.h5"), "wb") as f:
        f.write(write_keras3_weights(model, weighted, layers, False))
    archive("archive_without_weights", members=("metadata.json", "config.json"))
    archive("archive_two_inputs", functional=True,
            mutate=lambda root, w: root["config"].update(
                input_layers=[["input_1", 0, 0], ["input_2", 0, 0]]))
    archive("archive_wrong_kernel_shape",
            mutate=lambda root, w: w[0][2].__setitem__(0, w[0][2][0][:2]))
    path = archive("truncated")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])
    path = legacy("truncated_h5")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) * 2 // 3])
    def tfjs(name, spec=SIMPLE, **kwargs):
        model = build(rng, spec)
        path = os.path.join(BAD, name)
        os.makedirs(path)
        write_tfjs(path, model, **dict(dict(version="2.15.0", style="converter"), **kwargs))

    def manifest_edit(edit):
        def mutate(doc, shards):
            edit(doc["weightsManifest"][0], shards)
        return mutate

    tfjs("tfjs_quantized", mutate=manifest_edit(lambda g, s: g["weights"][0].update(
        quantization={"dtype": "uint8", "min": -1.0, "scale": 0.01})))
    tfjs("tfjs_missing_shard", shard_bytes=100,
         mutate=manifest_edit(lambda g, s: s.pop()))
    tfjs("tfjs_shard_too_long", mutate=manifest_edit(lambda g, s: s.__setitem__(0, s[0] + b"x" * 8)))
    tfjs("tfjs_shard_outside", mutate=manifest_edit(lambda g, s: g.__setitem__(
        "paths", ["../group1-shard1of1.bin"])))
    tfjs("tfjs_unclaimed_weight", mutate=manifest_edit(lambda g, s: (g["weights"].append(
        {"name": "extra/kernel", "shape": [2], "dtype": "float32"}), s.__setitem__(
        0, s[0] + b"\0" * 8))))
    tfjs("tfjs_graph_model", mutate=lambda doc, s: doc.update(format="graph-model"))
    os.makedirs(os.path.join(BAD, "not_keras"))
    with open(os.path.join(BAD, "not_keras", "model.keras"), "w") as f:
        f.write('{"format": "layers-model"}')
    # Last, so that the cases above keep their random weights:
    # a head of two Dense layers (Dense(relu) -> Dense), common in tutorials.
    legacy("stacked_dense", mutate=insert_layer(2, {"class_name": "Dense", "config": {
        "name": "dense_hidden", "units": 3, "activation": "relu", "use_bias": True}}))


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack_from("<Q", data)[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = t["data_offsets"]
        assert t["dtype"] == "F32", t["dtype"]
        out[name] = np.frombuffer(data[8 + n + begin:8 + n + end], "<f4").reshape(t["shape"])
    return out


def gru_gates_to_keras(w):
    """PyTorch GRU rows r, z, n -> Keras columns z, r, h (the same equations:
    both apply the reset gate after the recurrent matmul, Keras reset_after)."""
    r, z, n = np.split(w, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


def demo_as_keras(src):
    """A demo model of models/ (PyTorch naming) as the same network trained in
    Keras: kernel = W_ih^T, recurrent_kernel = W_hh^T. LSTM gates i, f, g, o
    are Keras' i, f, c, o with one bias b_ih + b_hh; GRU gates reorder r, z, n
    -> z, r, h with bias [b_ih; b_hh] (reset_after=True). Keras has no
    input/output transform: the model's normalisation is folded into the first
    kernel and input bias ((x - o) / s K = x (K / s) - (o / s) K) and into the
    Dense head (y s + o), in float64."""
    t = {k: v.astype(np.float64) for k, v in
         read_safetensors(os.path.join(src, "model.safetensors")).items()}
    config = json.load(open(os.path.join(src, "config.json")))
    cls = {"lstm": "LSTM", "gru": "GRU"}[config["cell"]]
    embedding = config.get("embedding")
    activation_of = {"softmax": "softmax", "identity": "linear"}
    spec = {"inputs": embedding["embedding_dim"] if embedding else config["input_size"],
            "vocab": embedding["num_embeddings"] if embedding else None,
            "layers": [{"class": cls, "units": config["hidden_size"]}
                       for _ in range(config["num_layers"])],
            "dense": {"units": config["head"]["out_features"],
                      "activation": activation_of[config["head"]["activation"]]}}
    model = build(np.random.default_rng(0), spec)
    if embedding:
        model["embedding"] = t["embedding.weight"].astype(np.float32)
    for k, layer in enumerate(model["recurrent"]):
        w_ih, w_hh = t["rnn.weight_ih_l%d" % k], t["rnn.weight_hh_l%d" % k]
        b_ih, b_hh = t["rnn.bias_ih_l%d" % k], t["rnn.bias_hh_l%d" % k]
        if cls == "GRU":
            kernel, rec = gru_gates_to_keras(w_ih).T, gru_gates_to_keras(w_hh).T
            bias = np.stack([gru_gates_to_keras(b_ih), gru_gates_to_keras(b_hh)])
            input_bias = bias[0]
        else:
            kernel, rec, bias = w_ih.T, w_hh.T, b_ih + b_hh
            input_bias = bias
        transform = config.get("input_transform")
        if k == 0 and transform:
            offset = np.broadcast_to(transform["offset"], kernel.shape[0])
            scale = np.broadcast_to(transform["scale"], kernel.shape[0])
            input_bias -= (offset / scale) @ kernel  # in place: bias[0] for GRU
            kernel = kernel / scale[:, None]
        layer["weights"] = [np.ascontiguousarray(a, dtype=np.float32)
                            for a in (kernel, rec, bias)]
    dense_kernel, dense_bias = t["head.weight"].T, t["head.bias"]
    transform = config.get("output_transform")
    if transform:
        offset = np.broadcast_to(transform["offset"], dense_bias.shape)
        scale = np.broadcast_to(transform["scale"], dense_bias.shape)
        dense_kernel, dense_bias = dense_kernel * scale, dense_bias * scale + offset
    model["dense"]["weights"] = [np.ascontiguousarray(a, dtype=np.float32)
                                 for a in (dense_kernel, dense_bias)]
    return model


def resave_demos(repository):
    """A model repository holding every demo model of models/ three times:
    <name>/1 as bundled (native), <name>_keras/1/model.keras as Keras 3.4.1
    saves it, <name>_h5/1/model.h5 as tf.keras 2.4.0 saves it (the layouts of
    KERAS_FORMATS.md); each Keras version folder also gets the demo's
    sample_input.npy. For tests/server/keras_demo_test.cc, which serves the
    three and compares their streams."""
    demos = os.path.join(HERE, "..", "..", "models")
    for name in sorted(os.listdir(demos)):
        src = os.path.join(demos, name, "1")
        if not os.path.exists(os.path.join(src, "model.safetensors")):
            continue  # the ONNX demos: the same networks as their native twins
        model = demo_as_keras(src)
        native = os.path.join(repository, name, "1")
        os.makedirs(native)
        for f in ("config.json", "model.safetensors", "sample_input.npy"):
            shutil.copy(os.path.join(src, f), native)
        keras3 = os.path.join(repository, name + "_keras", "1")
        os.makedirs(keras3)
        write_keras_archive(os.path.join(keras3, "model.keras"), model, "3.4.1")
        keras2 = os.path.join(repository, name + "_h5", "1")
        os.makedirs(keras2)
        write_legacy_h5(os.path.join(keras2, "model.h5"), model, version="2.4.0",
                        style="tf24", dialect="tf", fixed_names=True, utf8_version=True)
        for folder in (keras3, keras2):
            shutil.copy(os.path.join(src, "sample_input.npy"), folder)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--resave-demos":
        resave_demos(sys.argv[2])
        return
    modules = tfjs_modules()
    for d in (OUT, BAD):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    manifest = [
        "# Generated by tests/testdata/make_keras_fixtures.py; see its docstring.",
        "# streaming: no = bidirectional or go_backwards (whole-sequence call only).",
        "# reference: tfjs = @tensorflow/tfjs 4.22 (tfjs_run.js), cross-checked against the NumPy",
        "# equations within 1e-5; numpy = float64 NumPy only (GRU reset_after=True, Keras 3",
        "# hard_sigmoid: tfjs lacks both).",
        "# fixture                       streaming input  in_size out_size  reference file        "
        "keras_version"]
    for fixture in FIXTURES:
        make_fixture(*fixture, manifest, modules)
    with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    make_bad(manifest)
    print("\n".join(manifest))


if __name__ == "__main__":
    main()

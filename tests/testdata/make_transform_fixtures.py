#!/usr/bin/python3
"""Fixtures for per-step input/output transforms (issue 21): raw values in, raw out.

Run with Debian's Python (python3-torch 1.13, python3-onnx, python3-statsmodels for the
sunspot series), from anywhere:

    /usr/bin/python3 tests/testdata/make_transform_fixtures.py

Deterministic (fixed seeds). Wipes and regenerates ``tests/testdata/transform/`` and
``tests/testdata/transform_bad/`` next to itself.

``transform/<name>/`` holds one model, either ``model.onnx`` (``onnx_*``: the torch module
below exported with torch.onnx.export, opset 14) or ``config.json`` + ``model.safetensors``
(``native_*``: the SAME weights, the normalisation as ``input_transform`` /
``output_transform`` blocks), plus ``input_<k>.npy`` (float32 [T, I] raw values, T = 1, 7,
200, offset and scaled far from z-scores) and ``expected_<k>.npy`` (float32 [T, O]: the
torch module's output, raw). ``transform/MANIFEST.txt`` lists them, one line each, in the
format of ``onnx/MANIFEST.txt`` (the second column, streaming, is what the parity tests read):
name, streaming (always yes: every transform acts on one step), format, in_size, out_size,
the lengths T. The module:

    y = head(rnn((x - mean) / std)) * out_std + out_mean      (``Normalised``)

with mean/std scalars or per-feature vectors, GRU or LSTM, exported with or without
``dynamic_axes`` (without, the graph's time axis is fixed at the export length, so those
fixtures carry only that length). Variants spell the same affine maps differently, as
users write them: ``x * (1/std) - mean/std``, ``(mean - x) / -std``, ``y / (1/s) + m``.

``sunspots/sunspots.npy``: float32 [309, 2], rows (year, yearly sunspot number) 1700-2008,
copied from python3-statsmodels' sunspots.csv (public domain, NOAA NGDC): the data the demo
forecaster (models/forecast) was trained and scored on, so a test can score the served model
in raw sunspot numbers without statsmodels installed.

``transform_bad/<case>/model.onnx`` + ``transform_bad/README.txt`` (``case: message``): graphs
the loader must refuse with the message given (a substring), the node named.
"""
import json
import os
import shutil
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402  (write_safetensors, save_npy, write_config)

OUT = os.path.join(HERE, "transform")
BAD = os.path.join(HERE, "transform_bad")
LENGTHS = (1, 7, 200)
I, H, O = 3, 5, 2
MANIFEST = []  # (name, streaming, format, in_size, out_size, lengths)

torch.set_num_threads(1)


class Normalised(nn.Module):
    """An RNN trained on z-scores, normalising its raw input and output itself."""

    def __init__(self, cell, mean, std, out_mean, out_std, spelling="plain"):
        super().__init__()
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(I, H)
        self.head = nn.Linear(H, O)
        for n, v in (("mean", mean), ("std", std), ("out_mean", out_mean), ("out_std", out_std)):
            self.register_buffer(n, torch.tensor(v, dtype=torch.float32))
        self.spelling = spelling

    def forward(self, x):  # x: [T, I] raw
        if self.spelling == "plain":
            z = (x - self.mean) / self.std
        elif self.spelling == "mul_sub":
            z = x * (1.0 / self.std) - self.mean / self.std
        else:  # "reversed": c - x and a negative scale
            z = (self.mean - x) / -self.std
        y, _ = self.rnn(z.unsqueeze(1))
        y = self.head(y.squeeze(1))
        if self.spelling == "reversed":
            return y / (1.0 / self.out_std) + self.out_mean
        return y * self.out_std + self.out_mean


def inputs(seed, mean, std):
    g = torch.Generator().manual_seed(seed)
    mean = np.broadcast_to(np.asarray(mean, np.float32), (I,))
    std = np.broadcast_to(np.asarray(std, np.float32), (I,))
    return [(torch.randn(T, I, generator=g).numpy() * std + mean).astype(np.float32)
            for T in LENGTHS]


def build(cell, seed, mean, std, out_mean, out_std, spelling="plain"):
    torch.manual_seed(seed)
    net = Normalised(cell, mean, std, out_mean, out_std, spelling)
    net.eval()
    return net


def forward(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy().astype(np.float32)


def write_io(d, xs, net):
    for k, x in enumerate(xs):
        y = forward(net, x)
        assert np.all(np.isfinite(y)) and np.abs(y).max() > 5, "outputs must be raw, not z"
        mf.save_npy(os.path.join(d, f"input_{k}.npy"), x)
        mf.save_npy(os.path.join(d, f"expected_{k}.npy"), y)


def as_list(v):
    return [float(f) for f in np.atleast_1d(np.asarray(v, np.float32))]


def write_native(name, cell, net, xs):
    d = os.path.join(OUT, name)
    os.makedirs(d)
    cfg = mf.make_config(cell, I, H, head=(O, "identity"))
    cfg["input_transform"] = {"offset": as_list(net.mean), "scale": as_list(net.std)}
    cfg["output_transform"] = {"offset": as_list(net.out_mean), "scale": as_list(net.out_std)}
    mf.write_config(os.path.join(d, "config.json"), cfg)
    tensors = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()
               if k.startswith(("rnn.", "head."))}  # not the normalisation buffers
    mf.write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    write_io(d, xs, net)
    MANIFEST.append((name, "yes", "native", I, O, [len(x) for x in xs]))


def write_onnx(name, net, xs, dynamic):
    d = os.path.join(OUT, name)
    os.makedirs(d)
    if not dynamic:
        xs = xs[1:2]  # The graph fixes T at the export length.
    kw = dict(dynamic_axes={"input": {0: "T"}, "output": {0: "T"}}) if dynamic else {}
    torch.onnx.export(net, (torch.from_numpy(xs[0]),), os.path.join(d, "model.onnx"),
                      input_names=["input"], output_names=["output"], opset_version=14, **kw)
    write_io(d, xs, net)
    MANIFEST.append((name, "yes", "onnx", I, O, [len(x) for x in xs]))
    ops = [n.op_type for n in onnx.load(os.path.join(d, "model.onnx")).graph.node]
    print(f"{name}: {' '.join(ops)}")


def fixtures():
    scalar = dict(mean=43.7, std=34.1, out_mean=43.7, out_std=34.1)
    per_feature = dict(mean=[10.0, -200.0, 0.5], std=[2.0, 50.0, 0.25],
                       out_mean=[100.0, -7.0], out_std=[20.0, 3.0])
    cases = [("gru_scalar", "gru", scalar), ("lstm_scalar", "lstm", scalar),
             ("gru_per_feature", "gru", per_feature), ("lstm_per_feature", "lstm", per_feature)]
    for i, (name, cell, norm) in enumerate(cases):
        net = build(cell, 1000 + i, **norm)
        xs = inputs(2000 + i, norm["mean"], norm["std"])
        write_native(f"native_{name}", cell, net, xs)
        write_onnx(f"onnx_{name}", net, xs, dynamic=True)
        write_onnx(f"onnx_{name}_fixed_T", net, xs, dynamic=False)
    for spelling in ("mul_sub", "reversed"):
        net = build("lstm", 3000, spelling=spelling, **per_feature)
        write_onnx(f"onnx_lstm_{spelling}", net, inputs(3001, per_feature["mean"],
                                                       per_feature["std"]), dynamic=True)


def write_manifest():
    with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
        f.write("# Generated by tests/testdata/make_transform_fixtures.py; see its docstring.\n"
                "# streaming: yes for every fixture (a transform acts on each step alone).\n"
                "# Every fixture has input_<k>.npy and expected_<k>.npy for each T listed.\n")
        f.write(f"# {'fixture':<34} {'streaming':<9} {'format':<6} {'in_size':>7} "
                f"{'out_size':>8}  lengths\n")
        for name, streaming, fmt, isz, osz, lengths in sorted(MANIFEST):
            f.write(f"{name:<36} {streaming:<9} {fmt:<6} {isz:>7} {osz:>8}  "
                    f"{','.join(map(str, lengths))}\n")


# --------------------------------------------------------------------------
# Refusals: hand-built graphs around one GRU layer
# --------------------------------------------------------------------------

def gru_graph(name, before, after, extra_inits=(), extra_inputs=()):
    """[T, I] input -> `before` nodes -> Unsqueeze -> GRU -> Squeeze(1) -> `after`."""
    rng = np.random.default_rng(7)
    inits = [numpy_helper.from_array(rng.uniform(-.5, .5, (1, 3 * H, I)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.uniform(-.5, .5, (1, 3 * H, H)).astype(np.float32), "R"),
             numpy_helper.from_array(np.array([1], np.int64), "axis1"),
             numpy_helper.from_array(np.array([1, 1], np.int64), "axes12")]
    inits += list(extra_inits)
    nodes = list(before)
    nodes += [helper.make_node("Unsqueeze", ["z", "axis1"], ["z3"], name="/Unsqueeze"),
              helper.make_node("GRU", ["z3", "W", "R"], ["Y"], name="/GRU", hidden_size=H,
                               linear_before_reset=1),
              helper.make_node("Squeeze", ["Y", "axes12"], ["h"], name="/Squeeze")]
    nodes += list(after)
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["T", I])] + list(extra_inputs),
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["T", H])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 7
    return model


def const(name, a):
    return numpy_helper.from_array(np.asarray(a, np.float32), name)


def bad_cases():
    os.makedirs(BAD)
    cases = {
        # The offset changes from step to step: it is not a per-step transform.
        "sub_varies_with_time": (
            gru_graph("b", [helper.make_node("Sub", ["input", "m"], ["z"], name="/Sub")],
                      [helper.make_node("Identity", ["h"], ["output"])],
                      [const("m", np.arange(7 * I).reshape(7, I))]),
            "node '/Sub' (Sub): its constant operand is [7, 3]"),
        # Divides by the data: c / x is not affine.
        "constant_over_data": (
            gru_graph("b", [helper.make_node("Div", ["c", "input"], ["z"], name="/Div")],
                      [helper.make_node("Identity", ["h"], ["output"])], [const("c", 2.0)]),
            "node '/Div' (Div): divides a constant by the data"),
        # Mixes features before the recurrent layer.
        "matmul_before_rnn": (
            gru_graph("b", [helper.make_node("MatMul", ["input", "M"], ["z"], name="/MatMul")],
                      [helper.make_node("Identity", ["h"], ["output"])],
                      [const("M", np.eye(I))]),
            "node '/MatMul' (MatMul): is supported only as the one dense head"),
        # Between two recurrent layers: neither an input nor an output transform.
        "transform_between_layers": (
            gru_graph("b", [helper.make_node("Identity", ["input"], ["z"], name="/Id")],
                      [helper.make_node("Mul", ["h", "s"], ["hs"], name="/Mul"),
                       helper.make_node("Unsqueeze", ["hs", "axis1"], ["hs3"], name="/U2"),
                       helper.make_node("GRU", ["hs3", "W2", "R2"], ["Y2"], name="/GRU2",
                                        hidden_size=H, linear_before_reset=1),
                       helper.make_node("Squeeze", ["Y2", "axes12"], ["output"], name="/S2")],
                      [const("s", 2.0), const("W2", np.ones((1, 3 * H, H)) * .1),
                       const("R2", np.ones((1, 3 * H, H)) * .1)]),
            "node '/GRU2' (GRU): its input X must be the sequence"),
        # A per-feature constant of the wrong width.
        "wrong_width": (
            gru_graph("b", [helper.make_node("Sub", ["input", "m"], ["z"], name="/Sub")],
                      [helper.make_node("Identity", ["h"], ["output"])],
                      [const("m", [1.0, 2.0])]),
            "node '/Sub' (Sub): its constant operand is [2]"),
    }
    with open(os.path.join(BAD, "README.txt"), "w") as f:
        f.write("# case: the substring the loader's message must contain "
                "(made by make_transform_fixtures.py)\n")
        for name, (model, message) in sorted(cases.items()):
            os.makedirs(os.path.join(BAD, name))
            onnx.checker.check_model(model)
            onnx.save(model, os.path.join(BAD, name, "model.onnx"))
            f.write(f"{name}: {message}\n")


def copy_sunspots():
    csv = "/usr/lib/python3/dist-packages/statsmodels/datasets/sunspots/sunspots.csv"
    rows = np.loadtxt(csv, delimiter=",", skiprows=1, dtype=np.float64)
    assert rows.shape == (309, 2) and rows[0, 0] == 1700 and np.all(np.diff(rows[:, 0]) == 1)
    d = os.path.join(HERE, "sunspots")
    os.makedirs(d, exist_ok=True)
    mf.save_npy(os.path.join(d, "sunspots.npy"), rows.astype(np.float32))


def main():
    copy_sunspots()
    for d in (OUT, BAD):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(OUT)
    fixtures()
    write_manifest()
    bad_cases()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The ONNX export matrix: models exported the way users export them.

Run with Debian's Python (python3-torch 1.13, python3-onnx, numpy; no onnxruntime):

    /usr/bin/python3 tests/testdata/make_onnx_export_matrix.py

Deterministic (fixed seeds). Wipes and regenerates, next to itself:

``onnx_export/<cell>_<option>/``  a model the loader must import and match:
    ``model.onnx``        torch.onnx.export of the module (see "Options");
    ``input_<k>.npy``     k = 0, 1, 2: float32 [T, I] with T = 1, 7, 20 (the graph
                          input may have a unit batch axis: same values, same bytes);
    ``expected_<k>.npy``  float32 [T, output_size]: the torch module's first output,
                          one row per step, from zero initial states.
``onnx_export/MANIFEST.txt``  one line per fixture (streaming, cell, option, opset, sizes).
    The ``external_data`` rows also have ``model.onnx.data``: every weight saved
    outside model.onnx (``onnx.save_model(save_as_external_data=True)``).
``onnx_export_refused/<cell>_<option>/model.onnx`` and ``onnx_export_refused/README.txt``:
    exports the loader must refuse; the README gives, per case, the part of the message
    the test expects.

Cells: nn.LSTM, nn.GRU, nn.RNN (tanh), input_size 3, hidden_size 4, head 5 outputs.

Options: a covering design, not the cartesian product. The base is the plain call a
user writes, ``torch.onnx.export(module, x, path, opset_version=14)`` of a 1-layer
module on a [T, 1, I] example (T = 7), without dynamic_axes, with constant folding.
Every other row changes one option of the base (the opset rows one opset each), and
three rows (combo_a/b/c) combine several, for every cell. The export options exercised: dynamic_axes,
num_layers 2 and 3, batch_first, unbatched [T, I] input, a Linear head with no
activation / softmax / log_softmax / sigmoid / tanh / relu, h0 (and c0) as graph
inputs (a session starts from zeros: the reference runs from zeros), hn (and cn) as
extra graph outputs (ignored), keep_initializers_as_inputs=True,
do_constant_folding=False, opsets 9 to 17, the weights in an external data file, and,
refused, a fixed example batch of 2.
"""

import io
import os
import shutil
import warnings

import numpy as np
import onnx
import onnx.checker  # fails here, before anything is wiped, without python3-onnx (a bare
# "import onnx" would find tests/testdata/onnx/ as an empty namespace package)
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "onnx_export")
REFUSED = os.path.join(HERE, "onnx_export_refused")

I, H, HEAD = 3, 4, 5
LENGTHS = (1, 7, 20)
EXAMPLE_T = 7
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
ACTIVATIONS = {
    "identity": lambda y: y,
    "softmax": lambda y: torch.softmax(y, dim=-1),
    "log_softmax": lambda y: torch.log_softmax(y, dim=-1),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
}

BASE = dict(opset=14, dynamic=False, layers=1, head=None, batch_first=False, unbatched=False,
            state_inputs=False, state_outputs=False, keep_initializers=False, folding=True,
            batch=1, external_data=False)

# (option name, changes to BASE, what the test expects: None = imports and matches,
# else the part of the refusal message).
OPTIONS = [
    ("base", {}, None),
    ("dynamic_axes", dict(dynamic=True), None),
    ("layers2", dict(layers=2), None),
    ("layers3", dict(layers=3), None),
    ("batch_first", dict(batch_first=True), None),
    ("unbatched", dict(unbatched=True), None),
    ("head_identity", dict(head="identity"), None),
    ("head_softmax", dict(head="softmax"), None),
    ("head_log_softmax", dict(head="log_softmax"), None),
    ("head_sigmoid", dict(head="sigmoid"), None),
    ("head_tanh", dict(head="tanh"), None),
    ("head_relu", dict(head="relu"), None),
    ("state_inputs", dict(state_inputs=True), None),
    ("state_outputs", dict(state_outputs=True), None),
    ("keep_initializers_as_inputs", dict(keep_initializers=True), None),
    ("no_constant_folding", dict(folding=False), None),
] + [(f"opset{v}", dict(opset=v), None) for v in range(9, 18) if v != 14] + [
    ("combo_a", dict(opset=9, layers=3, head="log_softmax", folding=False), None),
    ("combo_b", dict(opset=17, dynamic=True, layers=2, batch_first=True, head="softmax",
                     state_inputs=True, state_outputs=True, keep_initializers=True), None),
    ("combo_c", dict(opset=11, dynamic=True, batch_first=True, layers=2, head="softmax",
                     folding=False), None),
    ("external_data", dict(external_data=True), None),
    ("batch_of_two", dict(batch=2), "a session is a batch of one"),
]


class Model(nn.Module):
    def __init__(self, cell, o):
        super().__init__()
        self.cell, self.o = cell, o
        self.rnn = CELLS[cell](I, H, o["layers"], batch_first=o["batch_first"])
        self.head = nn.Linear(H, HEAD) if o["head"] else None

    def forward(self, x, *states):
        if not states:
            y, state = self.rnn(x)
        else:
            y, state = self.rnn(x, tuple(states) if self.cell == "lstm" else states[0])
        if self.head is not None:
            y = ACTIVATIONS[self.o["head"]](self.head(y))
        if not self.o["state_outputs"]:
            return y
        return (y,) + (tuple(state) if self.cell == "lstm" else (state,))


def fed(x, o):
    """The graph input for a [T, I] sequence x: [T, 1, I], [1, T, I] or [T, I]."""
    if o["unbatched"]:
        return x
    return x[None, :, :] if o["batch_first"] else x[:, None, :]


def zero_states(cell, o):
    shape = (o["layers"], H) if o["unbatched"] else (o["layers"], o["batch"], H)
    return [torch.zeros(shape) for _ in range(2 if cell == "lstm" else 1)]


def export(module, cell, o):
    example = torch.randn(EXAMPLE_T, I)
    x = torch.from_numpy(fed(example.numpy(), o))
    if o["batch"] != 1:
        x = x.expand(*[o["batch"] if d == 1 else d for d in x.shape]).contiguous()
    states = zero_states(cell, o) if o["state_inputs"] else []
    state_names = ["h0", "c0"] if cell == "lstm" else ["h0"]
    out_names = ["output"] + (["hn", "cn"] if cell == "lstm" else ["hn"])
    in_names = ["input"] + (state_names if o["state_inputs"] else [])
    out_names = out_names if o["state_outputs"] else ["output"]
    time_axis = 1 if o["batch_first"] else 0
    dynamic = {"input": {time_axis: "T"}, "output": {time_axis: "T"}} if o["dynamic"] else None
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x, *states), f, opset_version=o["opset"], input_names=in_names,
                          output_names=out_names, dynamic_axes=dynamic,
                          do_constant_folding=o["folding"],
                          keep_initializers_as_inputs=o["keep_initializers"])
    model = onnx.load_model_from_string(f.getvalue())
    assert model.opset_import[0].version == o["opset"], (cell, o)
    onnx.checker.check_model(model, full_check=True)
    return model


def reference(module, cell, o, x):
    """The module's first output for the [T, I] sequence x, from zero states: [T, out]."""
    with torch.no_grad():
        states = zero_states(cell, o) if o["state_inputs"] else []
        y = module(torch.from_numpy(fed(x, o)), *states)
        if isinstance(y, tuple):
            y = y[0]
    return np.ascontiguousarray(y.numpy().reshape(x.shape[0], -1).astype(np.float32))


def main():
    for d in (OUT, REFUSED):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    manifest, refused = [], []
    for index, (option, changes, refusal) in enumerate(OPTIONS):
        o = dict(BASE, **changes)
        for cell_index, cell in enumerate(CELLS):
            name = f"{cell}_{option}"
            torch.manual_seed(1000 * index + cell_index)
            module = Model(cell, o).eval()
            model = export(module, cell, o)
            d = os.path.join(REFUSED if refusal is not None else OUT, name)
            os.makedirs(d)
            if o["external_data"]:
                onnx.save_model(model, os.path.join(d, "model.onnx"),
                                save_as_external_data=True, all_tensors_to_one_file=True,
                                location="model.onnx.data", size_threshold=0)
            else:
                onnx.save_model(model, os.path.join(d, "model.onnx"))
            if refusal is not None:
                refused.append(f"{name}: {refusal}")
                continue
            rng = np.random.default_rng(7 * index + cell_index)
            for k, t in enumerate(LENGTHS):
                x = rng.standard_normal((t, I)).astype(np.float32)
                y = reference(module, cell, o, x)
                assert np.all(np.isfinite(y))
                np.save(os.path.join(d, f"input_{k}.npy"), x)
                np.save(os.path.join(d, f"expected_{k}.npy"), y)
            manifest.append(f"{name:40s} yes       {cell:5s} {option:28s} {o['opset']:5d} {I:7d} "
                            f"{HEAD if o['head'] else H:8d}")
    with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
        f.write("# Generated by tests/testdata/make_onnx_export_matrix.py; see its docstring.\n")
        f.write("# Every fixture: model.onnx, input_{0,1,2}.npy (T = 1, 7, 20), "
                "expected_{0,1,2}.npy; all stream (the streaming\n"
                "# column is what the parity tests read, as in tests/testdata/onnx).\n")
        f.write(f"# {'fixture':38s} streaming {'cell':5s} {'option':28s} opset in_size out_size\n")
        f.write("\n".join(manifest) + "\n")
    with open(os.path.join(REFUSED, "README.txt"), "w") as f:
        f.write("Exports the loader refuses (make_onnx_export_matrix.py); per case, the part "
                "of the message the test expects.\n")
        f.write("\n".join(refused) + "\n")
    total = sum(os.path.getsize(os.path.join(r, n)) for base in (OUT, REFUSED)
                for r, _, ns in os.walk(base) for n in ns)
    print(f"{len(manifest)} fixtures, {len(refused)} refused cases, {total} bytes")


if __name__ == "__main__":
    main()

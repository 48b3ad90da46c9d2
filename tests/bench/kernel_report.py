#!/usr/bin/python3
"""Turns model_bench's JSON into the kernel table of README "Performance".

    taskset -c 1 build/bin/model_bench --benchmark_filter='paired|roofline' \\
        --benchmark_repetitions=5 --benchmark_min_time=0.3 \\
        --benchmark_out=/tmp/kernel.json --benchmark_out_format=json
    /usr/bin/python3 tests/bench/kernel_report.py /tmp/kernel.json [more.json ...]

One row per model, T and B: microseconds per session-step of rnnserve and of
oneDNN and their ratio, from the paired/ benchmarks (blocks of each alternate;
medians over pairs of neighbouring blocks, so both saw the same load from the
machine's other tenants). Then the row's limit: the larger of the weights'
read time (every weight once per step of the batch, the input weights once a
chunk, at the best bandwidth roofline/read/<model> saw) and its FLOPs at the
best FMA rate roofline/fma saw; at B = 1 (memory-bound) the limit is instead
the paired read of the weights, scaled to the bytes a step reads. Issue 6's targets: rnnserve / oneDNN <= 1.0
everywhere, rnnserve / limit <= 1.2 at B = 1 (the memory roofline).

Without paired/ results (a build without oneDNN) the rnnserve column comes
from the kernel/ benchmarks' medians. Given several JSON files (runs at
different times), every figure is the median over all of them.
"""

import json
import statistics
import sys
from collections import defaultdict


def load(paths):
    context = {}
    runs = defaultdict(list)  # run name -> every iteration run of it, all files
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        context = data.get("context", {})
        for b in data["benchmarks"]:
            if b.get("run_type", "iteration") != "iteration":
                continue
            name = b["run_name"].split("/iterations:")[0].removesuffix("/process_time")
            runs[name].append(b)
    return context, runs


def pick(runs, name, field, how):
    values = [r[field] for r in runs.get(name, []) if field in r]
    return how(values) if values else None


def limit(runs, model, first, steps, batch):
    """The row's roofline at the best bandwidth and FMA rate of the run."""
    bandwidth = pick(runs, f"roofline/read/{model}", "bytes_per_second", max)
    fma = pick(runs, "roofline/fma", "flops_per_second", max)
    if not bandwidth or not fma:
        return None
    weight_bytes, input_bytes = first["weight_bytes"], first["input_weight_bytes"]
    step_bytes = weight_bytes - input_bytes + input_bytes / steps
    return max(step_bytes / batch / bandwidth, first["flops_per_session_step"] / fma)


def rows_of(runs):
    keys = set()
    for name in runs:
        parts = name.split("/")
        if parts[0] in ("paired", "kernel"):
            keys.add((parts[1], int(parts[2][1:]), int(parts[3][1:])))
    for model, steps, batch in sorted(keys):
        paired = f"paired/{model}/T{steps}/B{batch}"
        median = statistics.median
        if paired in runs:
            first = runs[paired][0]
            ours = pick(runs, paired, "rnnserve_per_session_step", median)
            theirs = pick(runs, paired, "onednn_per_session_step", median)
            vs_theirs = pick(runs, paired, "rnnserve_over_onednn", median)
            ort = pick(runs, paired, "ort_per_session_step", median)
            vs_ort = pick(runs, paired, "rnnserve_over_ort", median)
            vs_best = pick(runs, paired, "rnnserve_over_best", median)
        else:
            name = f"kernel/{model}/T{steps}/B{batch}/rnnserve"
            first = runs[name][0]
            ours = pick(runs, name, "per_session_step", median)
            theirs = vs_theirs = ort = vs_ort = vs_best = None
        row_limit = limit(runs, model, first, steps, batch)
        vs_limit = ours / row_limit if ours and row_limit else None
        if paired in runs and batch == 1:
            # Against the read timed beside it, scaled to the bytes a step
            # reads (at T = 32 the input weights once per chunk).
            weight_bytes, input_bytes = first["weight_bytes"], first["input_weight_bytes"]
            share = (weight_bytes - input_bytes + input_bytes / steps) / weight_bytes
            row_limit = pick(runs, paired, "weight_read", median) * share
            vs_limit = pick(runs, paired, "rnnserve_over_weight_read", median) / share
        yield (model, steps, batch, ours, theirs, vs_theirs, row_limit, vs_limit, ort, vs_ort,
               vs_best)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    context, runs = load(argv[1:])
    rows = list(rows_of(runs))
    fma = pick(runs, "roofline/fma", "flops_per_second", max)
    print(f"kernel: {context.get('rnnserve_kernel', '?')}; {context.get('onednn', '?')}; "
          f"{context.get('onnxruntime', '?')}")
    if fma:
        print(f"FMA peak {fma / 1e9:.0f} GFLOP/s", end="")
    for model in sorted({r[0] for r in rows}):
        bandwidth = pick(runs, f"roofline/read/{model}", "bytes_per_second", max)
        if bandwidth:
            print(f"; {model} weights read at {bandwidth / 1e9:.0f} GB/s", end="")
    print("\n")

    def us(x):
        return f"{x * 1e6:.1f}" if x is not None else "-"

    def ratio(x):
        return f"{x:.2f}" if x is not None else "-"

    # ONNX Runtime's columns only when model_bench was built with it.
    with_ort = any(r[8] is not None for r in rows)
    ort_head = " ORT µs | rnnserve / ORT | rnnserve / best |" if with_ort else ""
    print("| model | T | B | rnnserve µs | oneDNN µs | rnnserve / oneDNN |" + ort_head
          + " limit µs | rnnserve / limit |")
    print("|---" * (11 if with_ort else 8) + "|")
    for (model, steps, batch, ours, theirs, vs_theirs, row_limit, vs_limit, ort, vs_ort,
         vs_best) in rows:
        ort_cells = f" {us(ort)} | {ratio(vs_ort)} | {ratio(vs_best)} |" if with_ort else ""
        print(f"| {model} | {steps} | {batch} | {us(ours)} | {us(theirs)} "
              f"| {ratio(vs_theirs)} |{ort_cells} {us(row_limit)} | {ratio(vs_limit)} |")

    behind = [r for r in rows if r[10] is not None and r[10] > 1.0]
    if with_ort:
        print(f"\nslower than the best of oneDNN and ONNX Runtime: {len(behind)} of "
              f"{len(rows)} rows" + "".join(f"\n  {r[0]} T={r[1]} B={r[2]}: {r[10]:.2f}x"
                                           for r in behind))
    slower = [r for r in rows if r[5] is not None and r[5] > 1.0]
    print(f"\nslower than oneDNN: {len(slower)} of {len(rows)} rows"
          + "".join(f"\n  {r[0]} T={r[1]} B={r[2]}: {r[5]:.2f}x" for r in slower))
    off = [r for r in rows if r[2] == 1 and r[7] is not None and r[7] > 1.2]
    print(f"B = 1 above 1.2x the memory roofline: {len(off)}"
          + "".join(f"\n  {r[0]} T={r[1]}: {r[7]:.2f}x" for r in off))


if __name__ == "__main__":
    main(sys.argv)

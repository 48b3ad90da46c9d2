#!/usr/bin/python3
"""The tables of scripts/service_bench.sh from its records, one JSON object a
line: {"server", "streams", "chunk", "round", "server_cpu_seconds", "bench",
"metrics_before", "metrics_after"} with "bench" the `rnnserve-cli bench
--json` report of that run and the metrics rnnserve's /metrics counters of
the model around it (empty for the other servers).

  tests/bench/service_report.py RECORDS.jsonl [--note TEXT]...

Prints Markdown: medians over the rounds per load and server, then rnnserve's
ratios to the echo floor (and "echo-weights", the echo reading the model's
weights once a step) and to the Python peer as medians of the ratios
within each round (runs of one round are close in time, so they share the
machine's load better than independent medians do); then where rnnserve's
CPU per step goes: its own compute time (rnnserve_compute_seconds), what the
echo server spends on gRPC for the same load, and the rest. With
"rnnserve-v2" runs (the same server through the Open Inference Protocol's
ModelStreamInfer), also their paired ratio to rnnserve's (StreamSteps), with
the spread over the rounds. With "rnnserve-bf16" (--weights=bf16) or
"baseline" (another rnnserve binary, e.g. before a change) runs, their paired
ratios to rnnserve, and their own rows in the breakdown.
"""

import argparse
import json
import statistics
from collections import defaultdict

SERVERS = ("echo", "echo-weights", "peer", "rnnserve", "rnnserve-v2", "rnnserve-bf16", "baseline")
# The servers rnnserve is compared with round by round (ratios_table).
FLOORS_AND_PEERS = ("echo", "echo-weights", "peer")
# Other rnnserve processes, compared with rnnserve round by round (variant_table).
VARIANTS = ("rnnserve-bf16", "baseline")


def load(path):
    runs = defaultdict(dict)  # (streams, chunk) -> {(server, round): figures}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            b = r["bench"]
            steps = max(b["steps"], 1)
            before, after = r.get("metrics_before", {}), r.get("metrics_after", {})
            delta = {k: after[k] - before.get(k, 0) for k in after}
            runs[(r["streams"], r["chunk"])][(r["server"], r["round"])] = {
                "steps_per_second": b["steps_per_second"],
                "p50": b["latency_us"]["p50"],
                "p99": b["latency_us"]["p99"],
                "p999": b["latency_us"]["p999"],
                "server_us": 1e6 * r["server_cpu_seconds"] / steps,
                "client_us": 1e6 * b["client_cpu_seconds"] / steps,
                "errors": b["errors"],
                # rnnserve's counters around the counted run: the wall time
                # of its step calls per step, and sessions per step call.
                "compute_us": 1e6 * delta.get("rnnserve_compute_seconds_sum", 0)
                / max(delta.get("rnnserve_steps_total", 0), 1),
                "batch": delta.get("rnnserve_batch_size_sum", 0)
                / max(delta.get("rnnserve_batch_size_count", 0), 1),
            }
    return runs


def fmt(x):
    if x >= 100:
        return f"{x:,.0f}".replace(",", " ")
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def load_name(streams, chunk):
    return f"{streams} stream{'s' if streams > 1 else ''} x {streams} session" \
           f"{'s' if streams > 1 else ''}, T={chunk}"


def medians_table(runs):
    print("| load | server | steps/s | (min-max) | p50 µs | p99 µs | p99.9 µs "
          "| server CPU µs/step | client CPU µs/step | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(runs):
        for server in SERVERS:
            rounds = [v for (s, _), v in runs[key].items() if s == server]
            if not rounds:
                continue
            med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
            lo = min(r["steps_per_second"] for r in rounds)
            hi = max(r["steps_per_second"] for r in rounds)
            print(f"| {load_name(*key)} | {server} | {fmt(med['steps_per_second'])} "
                  f"| {fmt(lo)}-{fmt(hi)} | {fmt(med['p50'])} | {fmt(med['p99'])} "
                  f"| {fmt(med['p999'])} | {fmt(med['server_us'])} | {fmt(med['client_us'])} "
                  f"| {sum(r['errors'] for r in rounds)} |")


def paired_ratios(runs, key, subject, other, figure):
    """subject's figure over other's, one per round both ran."""
    ratios = []
    for (server, rnd), v in runs[key].items():
        base = runs[key].get((other, rnd))
        if server == subject and base and base[figure] > 0:
            ratios.append(v[figure] / base[figure])
    return ratios


def paired_ratio(runs, key, other, figure, subject="rnnserve"):
    ratios = paired_ratios(runs, key, subject, other, figure)
    return statistics.median(ratios) if ratios else float("nan")


def ratios_table(runs):
    if not any(paired_ratios(runs, key, "rnnserve", other, "server_us")
               for key in runs for other in FLOORS_AND_PEERS):
        return
    print()
    print("| load | vs | steps/s | p50 | p99 | server CPU per step |")
    print("|---|---|---|---|---|---|")
    for key in sorted(runs):
        for other in FLOORS_AND_PEERS:
            if not paired_ratios(runs, key, "rnnserve", other, "server_us"):
                continue
            if other == "echo-weights" and key != (1, 1):
                continue  # a floor for lone steps only: a batch reads the weights once
            cells = [f"{paired_ratio(runs, key, other, f):.2f}"
                     for f in ("steps_per_second", "p50", "p99", "server_us")]
            print(f"| {load_name(*key)} | rnnserve / {other} | " + " | ".join(cells) + " |")


def v2_table(runs):
    """The Open Inference Protocol's path against the native one, same server."""
    if not any(paired_ratios(runs, key, "rnnserve-v2", "rnnserve", "server_us") for key in runs):
        return
    print()
    print("| load | v2 ModelStreamInfer / native StreamSteps | server CPU per step "
          "(min-max over rounds) | steps/s | p50 | p99 |")
    print("|---|---|---|---|---|---|")
    for key in sorted(runs):
        cpu = paired_ratios(runs, key, "rnnserve-v2", "rnnserve", "server_us")
        if not cpu:
            continue
        cells = [f"{paired_ratio(runs, key, 'rnnserve', f, 'rnnserve-v2'):.2f}"
                 for f in ("steps_per_second", "p50", "p99")]
        print(f"| {load_name(*key)} | {len(cpu)} rounds | {statistics.median(cpu):.3f} "
              f"({min(cpu):.3f}-{max(cpu):.3f}) | " + " | ".join(cells) + " |")


def breakdown_table(runs):
    """Where each rnnserve process's CPU per step goes, and the 1 x 1 latency
    floor: echo's p50 plus the compute of one step (issue 16's goals: the rest
    <= 10% of the CPU, p50 <= 1.1x the floor)."""
    if not any(s == "echo" for key in runs for (s, _) in runs[key]):
        return  # the breakdown needs echo's gRPC cost
    print()
    print("| load | server | sessions per step call | compute µs/step | server CPU µs/step "
          "| of which echo's gRPC | rest | rest share | p50 / (echo p50 + compute) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key in sorted(runs):
        def median(server, figure):
            values = [v[figure] for (s, _), v in runs[key].items() if s == server]
            return statistics.median(values) if values else float("nan")
        echo = median("echo", "server_us")
        for server in ("rnnserve",) + VARIANTS:
            if not any(s == server for (s, _) in runs[key]):
                continue
            cpu, compute = median(server, "server_us"), median(server, "compute_us")
            # The floor is one request alone: with more streams their queue adds to it.
            floor = median("echo", "p50") + compute * key[1] if key[0] == 1 else float("nan")
            print(f"| {load_name(*key)} | {server} | {median(server, 'batch'):.1f} "
                  f"| {fmt(compute)} | {fmt(cpu)} | {fmt(echo)} | {fmt(cpu - compute - echo)} "
                  f"| {100 * (cpu - compute - echo) / cpu:.0f}% "
                  f"| {median(server, 'p50') / floor:.2f} |".replace("| nan |", "| — |"))


def variant_table(runs):
    """Other rnnserve processes over rnnserve, medians of the per-round ratios."""
    rows = [(key, v) for key in sorted(runs) for v in VARIANTS
            if paired_ratios(runs, key, v, "rnnserve", "server_us")]
    if not rows:
        return
    print()
    print("| load | server / rnnserve | steps/s | p50 | p99 | server CPU per step "
          "| compute per step |")
    print("|---|---|---|---|---|---|---|")
    for key, variant in rows:
        cells = [f"{paired_ratio(runs, key, 'rnnserve', f, variant):.2f}"
                 for f in ("steps_per_second", "p50", "p99", "server_us", "compute_us")]
        print(f"| {load_name(*key)} | {variant} | " + " | ".join(cells) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records")
    parser.add_argument("--note", action="append", default=[], help="printed first")
    args = parser.parse_args()
    runs = load(args.records)
    for note in args.note:
        print(note)
    print()
    medians_table(runs)
    for table in (ratios_table, breakdown_table, v2_table, variant_table):
        table(runs)  # each after a blank line, when it has rows


if __name__ == "__main__":
    main()

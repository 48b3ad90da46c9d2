#!/usr/bin/python3
"""Checks Grafana dashboards (and optionally Prometheus rule files) against a real exposition.

    check-dashboard.py [--dashboard FILE]... [--rules FILE]... [--allow NAME]... EXPOSITION

EXPOSITION is a saved /metrics text file or a live URL (http://127.0.0.1:9464/metrics).

For every dashboard: the JSON parses; it is a dashboard in Grafana's provisioning format
(uid, title, schemaVersion, panels with unique ids, types and grid positions; no "id" but
null); every panel target has an expr and a refId unique in its panel; every $variable used
is defined in templating; and every metric name in every query (panels, rows' nested
panels, query variables' label_values(...)) is a series name of the exposition. Histograms
count as their _bucket, _sum and _count series, summaries as NAME, _sum and _count: a bare
histogram name is an error, since Prometheus stores no such series. Prometheus' own
per-target series (up, scrape_*) and ALERTS are always allowed.

--rules FILE checks the exprs of a Prometheus rule file the same way (needs python3-yaml,
which yamllint brings; skipped with a note without it); names recorded by the rule files
count as known. --allow NAME accepts a metric the server does not export yet (reported).

Standard library only. Exit 0 when everything passes, 1 on any problem, 2 on usage errors.
"""

import argparse
import json
import os
import re
import sys
import urllib.request

ALWAYS_KNOWN = {
    "up", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added", "ALERTS", "ALERTS_FOR_STATE",
}
# PromQL words that are not metric names when not followed by "(".
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "atan2", "inf", "nan",
}
AGGREGATORS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile",
}
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def read_exposition(source):
    if re.match(r"https?://", source):
        with urllib.request.urlopen(source, timeout=10) as response:
            return response.read().decode("utf-8")
    with open(source, encoding="utf-8") as f:
        return f.read()


def exposition_names(text):
    """Series names a PromQL query can select, from samples and # TYPE lines."""
    names = set()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                name, kind = parts[2], parts[3]
                if kind == "histogram":
                    names.update({name + "_bucket", name + "_sum", name + "_count"})
                elif kind == "summary":
                    names.update({name, name + "_sum", name + "_count"})
                else:
                    names.add(name)
            continue
        match = IDENT.match(line)
        if match:
            names.add(match.group(0))
    return names


def strip_for_names(expr):
    """The expr without strings, label matchers, ranges, grouping labels and numbers."""
    expr = re.sub(r"\$__\w+", "5m", expr)                     # Grafana's $__rate_interval etc.
    expr = re.sub(r"\$\{?\w+(:\w+)?\}?", "x", expr)             # other Grafana variables
    expr = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    expr = re.sub(r"#[^\n]*", " ", expr)                        # PromQL comments
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\boffset\s+-?\w+", " ", expr)
    expr = re.sub(r"@\s*[\w.()]+", " ", expr)
    expr = re.sub(r"(?<![\w:])(0x[0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)", " ", expr)
    return expr


def metric_names(expr):
    """Metric names selected by a PromQL expression (a tokenizer, not a full parser)."""
    stripped = strip_for_names(expr)
    names = []
    for match in IDENT.finditer(stripped):
        word = match.group(0)
        rest = stripped[match.end():].lstrip()
        if rest.startswith("("):
            continue                                              # a function call
        if word.lower() in KEYWORDS or word in AGGREGATORS:
            continue                                              # sum by (..) (...) etc.
        names.append(word)
    return names


def variable_queries(var):
    """PromQL expressions inside a query variable's definition."""
    query = var.get("query")
    if isinstance(query, dict):
        query = query.get("query", "")
    query = query or ""
    match = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query, re.S)
    if match:
        return [match.group(1)]
    match = re.fullmatch(r"\s*label_values\(\s*\w+\s*\)\s*", query)
    if match:
        return []                                                 # all series: no metric
    match = re.fullmatch(r"\s*(?:query_result|metrics)\((.*)\)\s*", query, re.S)
    if match:
        return [match.group(1)]
    return [query] if query.strip() else []


def all_panels(panels):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


class Checker:
    def __init__(self, known, allowed):
        self.known = known
        self.allowed = allowed
        self.problems = []
        self.allowed_used = set()
        self.queries = 0
        self.names_checked = set()

    def problem(self, where, message):
        self.problems.append(f"{where}: {message}")

    def check_expr(self, where, expr):
        self.queries += 1
        for name in dict.fromkeys(metric_names(expr)):
            self.names_checked.add(name)
            if name in self.known or name in ALWAYS_KNOWN:
                continue
            if name in self.allowed:
                self.allowed_used.add(name)
                continue
            hint = " (a labelled series appears once it has a sample: drive traffic first?)"
            if any(n.startswith(name + "_") for n in self.known):
                hint = " (a histogram or summary? select its _bucket, _sum or _count)"
            self.problem(where, f"metric {name} is not in the exposition{hint}: {expr!r}")

    def check_dashboard(self, path):
        try:
            with open(path, encoding="utf-8") as f:
                dash = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            self.problem(path, f"does not parse as JSON: {e}")
            return
        if not isinstance(dash, dict):
            self.problem(path, "is not a JSON object")
            return
        for key, kind in (("uid", str), ("title", str), ("schemaVersion", int), ("panels", list)):
            if not isinstance(dash.get(key), kind):
                self.problem(path, f"top-level {key!r} missing or not a {kind.__name__}")
        if dash.get("id") is not None:
            self.problem(path, "a provisioned dashboard has no numeric id (use null)")
        if "dashboard" in dash:
            self.problem(path, "wrapped in {\"dashboard\": ...}: provisioning wants the bare model")

        variables = dash.get("templating", {}).get("list", [])
        defined = {v.get("name") for v in variables}
        builtin = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s",
                   "__range_ms", "__from", "__to", "__all", "__name", "__dashboard", "__org",
                   "__user", "timeFilter", "__timeFilter"}
        for var in variables:
            where = f"{path}: variable ${var.get('name')}"
            if var.get("type") == "query":
                for expr in variable_queries(var):
                    self.check_expr(where, expr)

        ids = set()
        for panel in all_panels(dash.get("panels", [])):
            where = f"{path}: panel {panel.get('id')} {panel.get('title')!r}"
            if not isinstance(panel.get("id"), int) or panel["id"] in ids:
                self.problem(where, "panel id missing or repeated")
            ids.add(panel.get("id"))
            if not panel.get("type"):
                self.problem(where, "panel without type")
            grid = panel.get("gridPos", {})
            if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")):
                self.problem(where, "gridPos needs integer h, w, x, y")
            elif grid["x"] + grid["w"] > 24:
                self.problem(where, "gridPos wider than the 24 columns")
            if panel.get("type") == "row":
                continue
            targets = panel.get("targets", [])
            if not targets:
                self.problem(where, "panel without queries")
            refs = set()
            for target in targets:
                expr = target.get("expr")
                if not isinstance(expr, str) or not expr.strip():
                    self.problem(where, f"target {target.get('refId')} has no expr")
                    continue
                if target.get("refId") in refs or not target.get("refId"):
                    self.problem(where, f"refId {target.get('refId')!r} missing or repeated")
                refs.add(target.get("refId"))
                self.check_expr(f"{where} {target.get('refId')}", expr)

        text = json.dumps(dash)
        for name in set(re.findall(r"\$\{?(\w+)", text)):
            if name not in defined and name not in builtin:
                self.problem(path, f"${name} is used but not defined in templating")

    def check_rules(self, path):
        try:
            import yaml  # Debian python3-yaml (yamllint depends on it); optional.
        except ImportError:
            print(f"note: {path}: python3-yaml missing, rule exprs not checked")
            return
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                self.check_expr(f"{path}: {rule.get('record') or rule.get('alert')}", rule["expr"])


def recorded_names(paths):
    names = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            names.update(re.findall(r"^\s*-?\s*record:\s*([A-Za-z_:][A-Za-z0-9_:]*)", f.read(), re.M))
    return names


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("exposition", help="saved /metrics file or http(s) URL")
    parser.add_argument("--dashboard", action="append",
                        help="dashboard JSON (default: dashboards/*.json next to this script)")
    parser.add_argument("--rules", action="append", default=[], help="Prometheus rule file")
    parser.add_argument("--allow", action="append", default=[],
                        help="metric name accepted although the exposition lacks it")
    args = parser.parse_args()

    dashboards = args.dashboard or sorted(
        os.path.join(here, "dashboards", f) for f in os.listdir(os.path.join(here, "dashboards"))
        if f.endswith(".json"))
    try:
        text = read_exposition(args.exposition)
    except OSError as e:
        print(f"cannot read {args.exposition}: {e}", file=sys.stderr)
        return 2
    known = exposition_names(text)
    if not any(n.startswith("rnnserve_") for n in known):
        print(f"{args.exposition}: no rnnserve_ metric: not an rnnserve exposition", file=sys.stderr)
        return 1
    checker = Checker(known | recorded_names(args.rules), set(args.allow))
    for path in dashboards:
        checker.check_dashboard(path)
    for path in args.rules:
        checker.check_rules(path)

    for line in checker.problems:
        print("FAIL", line)
    for name in sorted(checker.allowed_used):
        print(f"note: {name} is not exported by this server (allowed with --allow)")
    status = "FAILED" if checker.problems else "OK"
    print(f"{status}: {len(dashboards)} dashboard(s), {len(args.rules)} rule file(s), "
          f"{checker.queries} queries, {len(checker.names_checked)} metric names, "
          f"{len(known)} series names in {args.exposition}")
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main())

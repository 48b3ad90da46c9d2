#!/usr/bin/python3
"""Offline checks of the KServe example (deploy/kserve/*.yaml); no cluster needed.

    deploy/kserve/check.py [--rnnserve BIN] [--cli BIN] [--k8s-validate RUN_SH]

KServe's CRD schemas are not available offline here, so this checks what KServe
documents for the two kinds, and everything that can be checked for real:
  - the YAML parses; apiVersion/kind are serving.kserve.io/v1alpha1 ServingRuntime and
    serving.kserve.io/v1beta1 InferenceService; no field outside the documented ones
    (ServingRuntimeSpec, InferenceServiceSpec, PredictorSpec, ModelSpec), with their types
    and enums (protocolVersions: v1, v2, grpc-v1, grpc-v2);
  - each InferenceService names the runtime, a model format it supports and a protocol
    version it speaks, runs as RawDeployment (stateful sessions), and its port is the one
    the server listens on for that protocol (v2: --http_listen, grpc-v2: --listen, h2c);
  - with --k8s-validate, the runtime's container (and the InferenceService's ports) as a
    core/v1 Container, strictly, by ../shared/tools/k8s-validate in a Pod;
  - with --rnnserve, every argument is a flag of the built server, and the server started
    with the runtime's arguments (addresses moved to 127.0.0.1 free ports, /mnt/models to
    this repository's models/) answers GET /v2/health/ready and the model's metadata over
    HTTP, and grpc.health.v1 over gRPC (with --cli, rnnserve-cli health).
Prints PASS/FAIL lines; exit 0 when all pass, 1 otherwise.
"""

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROTOCOLS = {"v1", "v2", "grpc-v1", "grpc-v2"}
# The documented fields (KServe API reference, serving.kserve.io).
RUNTIME_SPEC = {
    "supportedModelFormats", "multiModel", "disabled", "protocolVersions", "containers",
    "volumes", "nodeSelector", "affinity", "tolerations", "labels", "annotations",
    "imagePullSecrets", "builtInAdapter", "storageHelper", "replicas", "grpcEndpoint",
    "grpcDataEndpoint", "httpDataEndpoint", "hostIPC", "workerSpec",
}
MODEL_FORMAT = {"name", "version", "autoSelect", "priority"}
ISVC_SPEC = {"predictor", "explainer", "transformer"}
PREDICTOR = {
    "model", "minReplicas", "maxReplicas", "scaleTarget", "scaleMetric", "containerConcurrency",
    "timeout", "canaryTrafficPercent", "logger", "batcher", "labels", "annotations",
    "deploymentStrategy", "serviceAccountName", "containers", "volumes", "nodeSelector",
    "affinity", "tolerations", "imagePullSecrets", "securityContext", "priorityClassName",
}
# ModelSpec: its own fields and a core/v1 Container's (checked by k8s-validate).
MODEL = {
    "modelFormat", "runtime", "protocolVersion", "storageUri", "name", "image", "command",
    "args", "env", "envFrom", "ports", "resources", "volumeMounts", "securityContext",
    "readinessProbe", "livenessProbe", "startupProbe", "imagePullPolicy",
}

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("PASS  " if ok else "FAIL  ") + name + ("" if ok or not detail else ": " + detail))
    return ok


def unknown(obj, allowed):
    return sorted(set(obj) - allowed) if isinstance(obj, dict) else ["(not a mapping)"]


def load(name):
    with open(os.path.join(HERE, name)) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    check(f"{name}: one YAML document", len(docs) == 1, f"{len(docs)} documents")
    return docs[0] if docs else {}


def flag_value(args, flag):
    for a in args:
        if a.startswith(f"--{flag}="):
            return a.split("=", 1)[1]
    return None


def port_of(address):
    return int(address.rsplit(":", 1)[1]) if address and ":" in address else None


def check_runtime(rt):
    check("ServingRuntime: apiVersion and kind",
          rt.get("apiVersion") == "serving.kserve.io/v1alpha1" and rt.get("kind") == "ServingRuntime",
          f'{rt.get("apiVersion")} {rt.get("kind")}')
    spec = rt.get("spec", {})
    check("ServingRuntime: only documented spec fields", not unknown(spec, RUNTIME_SPEC),
          str(unknown(spec, RUNTIME_SPEC)))
    formats = spec.get("supportedModelFormats", [])
    check("ServingRuntime: supportedModelFormats (name, version string, autoSelect bool)",
          bool(formats) and all(isinstance(f, dict) and not unknown(f, MODEL_FORMAT)
                                and isinstance(f.get("name"), str)
                                and isinstance(f.get("version", ""), str)
                                and isinstance(f.get("autoSelect", False), bool) for f in formats),
          str(formats))
    versions = spec.get("protocolVersions", [])
    check("ServingRuntime: protocolVersions from v1, v2, grpc-v1, grpc-v2",
          bool(versions) and set(versions) <= PROTOCOLS, str(versions))
    containers = spec.get("containers", [])
    check("ServingRuntime: one container named kserve-container",
          len(containers) == 1 and containers[0].get("name") == "kserve-container")
    return containers[0] if containers else {}


def check_isvc(name, isvc, rt, container):
    check(f"{name}: apiVersion and kind",
          isvc.get("apiVersion") == "serving.kserve.io/v1beta1"
          and isvc.get("kind") == "InferenceService")
    spec = isvc.get("spec", {})
    predictor = spec.get("predictor", {})
    model = predictor.get("model", {})
    check(f"{name}: only documented fields",
          not unknown(spec, ISVC_SPEC) and not unknown(predictor, PREDICTOR)
          and not unknown(model, MODEL),
          str(unknown(spec, ISVC_SPEC) + unknown(predictor, PREDICTOR) + unknown(model, MODEL)))
    annotations = isvc.get("metadata", {}).get("annotations", {})
    check(f"{name}: RawDeployment (sessions are state)",
          annotations.get("serving.kserve.io/deploymentMode") == "RawDeployment")
    rt_spec = rt.get("spec", {})
    check(f"{name}: runtime is the ServingRuntime",
          model.get("runtime") == rt.get("metadata", {}).get("name"))
    check(f"{name}: modelFormat supported by the runtime",
          model.get("modelFormat", {}).get("name")
          in {f.get("name") for f in rt_spec.get("supportedModelFormats", [])})
    protocol = model.get("protocolVersion")
    check(f"{name}: protocolVersion spoken by the runtime",
          protocol in rt_spec.get("protocolVersions", []), str(protocol))
    check(f"{name}: storageUri", isinstance(model.get("storageUri"), str)
          and re.match(r"^(pvc|s3|gs|https?|hdfs|webhdfs|oci)://", model["storageUri"]) is not None)
    args = container.get("args", [])
    ports = model.get("ports") or container.get("ports", [])
    if protocol == "grpc-v2":
        want, port_name = port_of(flag_value(args, "listen")), "h2c"
    else:
        want, port_name = port_of(flag_value(args, "http_listen")), "http1"
    check(f"{name}: its port ({port_name}) is where the server listens for {protocol}",
          len(ports) == 1 and ports[0].get("containerPort") == want
          and ports[0].get("name") == port_name, f"ports {ports}, server on {want}")
    return ports


def k8s_validate(run_sh, container, extra_ports):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kserve-container-check"},
           "spec": {"containers": [container]}}
    variant = dict(container, name="with-isvc-ports", ports=extra_ports)
    pod["spec"]["containers"].append(variant)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(pod, f)
    try:
        run = subprocess.run([run_sh, f.name], capture_output=True, text=True, timeout=300)
    finally:
        os.unlink(f.name)
    check("the runtime's container (and the InferenceServices' ports) as core/v1 Container "
          "(k8s-validate)", run.returncode == 0, (run.stdout + run.stderr)[-800:])


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def http_get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def run_server(binary, cli, container):
    args = container.get("args", [])
    helpfull = subprocess.run([binary, "--helpfull"], capture_output=True, text=True).stdout
    flags = [a.split("=", 1)[0] for a in args]
    missing = [f for f in flags if f"{f} " not in helpfull and f"{f}\n" not in helpfull]
    check("the runtime's args are rnnserve flags", not missing, str(missing))
    grpc_port, http_port, metrics_port = free_ports(3)
    local = {"listen": grpc_port, "http_listen": http_port, "metrics_listen": metrics_port}
    run_args = []
    for a in args:
        flag, _, value = a[2:].partition("=")
        if flag in local:
            value = f"127.0.0.1:{local[flag]}"
        value = value.replace("/mnt/models", os.path.join(ROOT, "models"))
        run_args.append(f"--{flag}={value}")
    server = subprocess.Popen([binary] + run_args, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        ready = None
        for _ in range(300):
            try:
                ready = http_get(http_port, "/v2/health/ready")[0]
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.1)
        check("the server started with the runtime's args: GET /v2/health/ready 200",
              ready == 200, f"status {ready}")
        status, body = http_get(http_port, "/v2/models/forecast") if ready else (0, b"")
        meta = json.loads(body) if status == 200 else {}
        check("... and serves the model's metadata over HTTP (forecast, input FP32)",
              meta.get("name") == "forecast" and meta["inputs"][0]["datatype"] == "FP32",
              f"{status} {body[:200]!r}")
        if cli:
            health = subprocess.run([cli, "health", f"--server=127.0.0.1:{grpc_port}"],
                                    capture_output=True, text=True, timeout=30)
            check("... and grpc.health.v1 SERVING on its gRPC port (--listen)",
                  health.returncode == 0, health.stdout + health.stderr)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        check("the server stops on SIGTERM", server.returncode == 0,
              f"exit {server.returncode}: {server.stderr.read()[-800:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rnnserve", help="the built server, to run with the runtime's args")
    parser.add_argument("--cli", help="rnnserve-cli, for the gRPC health check")
    parser.add_argument("--k8s-validate", help="../shared/tools/k8s-validate/run.sh")
    args = parser.parse_args()
    rt = load("servingruntime.yaml")
    container = check_runtime(rt)
    ports = []
    for name in ("inferenceservice-rest.yaml", "inferenceservice-grpc.yaml"):
        ports += check_isvc(name, load(name), rt, container)
    if args.k8s_validate:
        k8s_validate(args.k8s_validate, container, ports)
    if args.rnnserve:
        run_server(args.rnnserve, args.cli, container)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""REST unary per-request overhead beside gRPC's unary Step (issue 14).

One client, one session, closed loop, T=1 steps of the same model on one
running rnnserve: native `rnnserve.v1.InferenceService/Step` (grpcio),
`inference.GRPCInferenceService/ModelInfer` (grpcio) and the REST
`POST /v2/models/M/infer` (http.client on one keep-alive connection). Prints
the median and mean round trip of each in microseconds, and with
--server_pid the server's CPU per request (utime + stime of that process
around each protocol's timed requests). Both clients are Python, so the
round trips include the same kind of client cost; the differences are the
protocols'.

  tests/bench/rest_vs_grpc_unary.py GRPC_PORT HTTP_PORT [MODEL (forecast)] [N (2000)]
                                    [--server_pid PID]

Stubs are generated into a temporary folder with protoc and grpc_python_plugin.
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def stubs():
    out = tempfile.mkdtemp(prefix="rest_bench_stubs_")
    plugin = subprocess.check_output(["which", "grpc_python_plugin"], text=True).strip()
    protos = ["rnnserve/v1/inference.proto", "rnnserve/v1/types.proto", "inference/grpc_service.proto"]
    subprocess.check_call(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out", out,
                           "--grpc_out", out, "--plugin=protoc-gen-grpc=" + plugin] + protos)
    sys.path.insert(0, out)


def cpu_seconds(pid):
    """utime + stime of process `pid` (fields 14 and 15 of /proc/PID/stat)."""
    if pid is None:
        return 0.0
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(n, call, server_pid):
    for _ in range(min(200, n)):  # warm up
        call()
    times = []
    cpu_before = cpu_seconds(server_pid)
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e6)
    server_us = (cpu_seconds(server_pid) - cpu_before) * 1e6 / n
    return statistics.median(times), statistics.mean(times), server_us


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--server_pid=")]
    pids = [int(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--server_pid=")]
    server_pid = pids[0] if pids else None
    grpc_port, http_port = int(args[0]), int(args[1])
    model = args[2] if len(args) > 2 else "forecast"
    n = int(args[3]) if len(args) > 3 else 2000
    stubs()
    import grpc
    from rnnserve.v1 import inference_pb2, inference_pb2_grpc
    from inference import grpc_service_pb2, grpc_service_pb2_grpc

    channel = grpc.insecure_channel("127.0.0.1:%d" % grpc_port)
    native = inference_pb2_grpc.InferenceServiceStub(channel)
    v2 = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
    conn = http.client.HTTPConnection("127.0.0.1", http_port)
    width = json.loads(urlopen_get(conn, "/v2/models/" + model))["inputs"][0]["shape"][1]
    values = [0.25] * width

    def native_step(start=False):
        request = inference_pb2.StepRequest(session_id="bench-native", start=start)
        request.model.name = model
        request.floats.values.extend(values)
        native.Step(request)

    def v2_step(start=False):
        request = grpc_service_pb2.ModelInferRequest(model_name=model)
        request.parameters["sequence_id"].string_param = "bench-v2"
        request.parameters["sequence_start"].bool_param = start
        tensor = request.inputs.add(name="input", datatype="FP32", shape=[1, width])
        tensor.contents.fp32_contents.extend(values)
        v2.ModelInfer(request)

    def rest_step(start=False):
        body = json.dumps({"parameters": {"sequence_id": "bench-rest", "sequence_start": start},
                           "inputs": [{"name": "input", "shape": [1, width], "datatype": "FP32",
                                       "data": values}]}).encode()
        # bytes, not str: http.client then sends the header and the body in one
        # write; two writes meet Nagle and the server's delayed ACK (40 ms).
        conn.request("POST", "/v2/models/%s/infer" % model, body,
                     {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status

    native_step(True)
    v2_step(True)
    rows = [("native gRPC Step", timed(n, native_step, server_pid)),
            ("v2 gRPC ModelInfer", timed(n, v2_step, server_pid))]
    # A fresh connection: the server closes one idle for 2 s (--http_threads).
    conn.close()
    rest_step(True)
    rows.append(("v2 REST POST .../infer", timed(n, rest_step, server_pid)))
    print("| unary T=1, %s, %d requests | round trip median µs | mean µs "
          "| server CPU µs/request |" % (model, n))
    print("|---|---|---|---|")
    for name, (median, mean, server_us) in rows:
        print("| %s | %.0f | %.0f | %s |" % (name, median, mean,
                                             "%.0f" % server_us if server_pid else "-"))


def urlopen_get(conn, path):
    conn.request("GET", path)
    response = conn.getresponse()
    return response.read()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Independent KEDA external scaler client (Debian python3-grpcio), for tests and for checking a running adapter.

Stubs are generated from the project's proto at run time (protoc + /usr/bin/grpc_python_plugin) into a temporary
directory. Health (grpc.health.v1) and reflection (grpc.reflection.v1alpha) are called with hand-encoded protobuf
bytes, so no extra Python packages are needed.

Modes:
  selftest --server-binary PATH [--proto FILE]
      Starts keda_test_server (fake Prometheus, driven over its stdin) over plaintext (--insecure; without it the
      server refuses to start), TLS and mutual TLS with an allowlist of client names (certs made with the openssl
      CLI in a temporary directory) and checks every RPC, error codes, StreamIsActive pushes, health and
      reflection; that a client without a certificate, with one from another CA, or with one the CA signed for a
      name not on the allowlist is refused; and the bounds: streams beyond the per-client limit get
      RESOURCE_EXHAUSTED while another client's stream still gets pushes, an oversized request is refused. Exit
      status 0 when everything passed.
  call --address HOST:PORT [--namespace NS] [--ca FILE [--cert FILE --key FILE] [--server-name NAME]]
       [--stream-messages N] [--timeout S] [--proto FILE] key=value...
      Calls GetMetricSpec, GetMetrics, IsActive, and StreamIsActive (first N messages, default 1) with the given
      trigger metadata against a running scaler (e.g. the adapter fed by real Prometheus), and prints one JSON
      object with the results (errors as {"code": ..., "message": ...}). Exit status 0 when all calls succeeded.
      With --address given several times (replicas of one scaler), the calls go to each in turn, back to back,
      and the JSON object maps each address to its results.
  scaledobjects --address HOST:PORT [--server-map FROM=TO]... [--proto FILE] FILE...
      Reads ScaledObject manifests (YAML, several documents per file) and sends each `prometheus` or `external`
      trigger's metadata as KEDA does once the trigger is `type: external` with scalerAddress HOST:PORT: the
      ScaledObject's name and namespace in the reference, the metadata as written (values as strings), plus
      scalerAddress. A serverAddress starting with FROM is rewritten to start with TO (a cluster's address to the
      test's loopback one). Prints a JSON array, one entry per trigger: file, scaledObject, namespace, trigger
      index, type, the metadata sent and the results as `call` prints them.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO = os.path.normpath(os.path.join(HERE, "..", "..", "proto", "externalscaler.proto"))
SERVICE = "externalscaler.ExternalScaler"


def load_stubs(proto):
    """Generates externalscaler_pb2(_grpc).py into a temporary directory and imports them."""
    out = tempfile.mkdtemp(prefix="keda-stubs-")
    subprocess.run(
        ["protoc", "-I", os.path.dirname(proto), "--python_out", out, "--grpc_python_out", out,
         "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin", os.path.basename(proto)],
        check=True)
    sys.path.insert(0, out)
    import externalscaler_pb2  # noqa: E402
    import externalscaler_pb2_grpc  # noqa: E402
    return externalscaler_pb2, externalscaler_pb2_grpc


def make_channel(address, ca=None, cert=None, key=None, server_name=None):
    if ca is None:
        return grpc.insecure_channel(address)
    read = lambda p: open(p, "rb").read() if p else None  # noqa: E731
    creds = grpc.ssl_channel_credentials(root_certificates=read(ca), private_key=read(key),
                                         certificate_chain=read(cert))
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    return grpc.secure_channel(address, creds, options=options)


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def health_check(channel, service, timeout=10):
    """grpc.health.v1.Health/Check; returns the status number (1 = SERVING)."""
    name = service.encode()
    request = (b"\x0a" + _varint(len(name)) + name) if name else b""
    call = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)
    response = call(request, timeout=timeout)
    if response[:1] != b"\x08":
        return 0  # field 1 absent: UNKNOWN
    return response[1]


def reflection_list_services(channel, timeout=10):
    """grpc.reflection.v1alpha ServerReflectionInfo with list_services; returns the raw answer bytes."""
    call = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                 request_serializer=lambda b: b, response_deserializer=lambda b: b)
    responses = call(iter([b"\x3a\x00"]), timeout=timeout)  # field 7 (list_services) = ""
    return b"".join(responses)


def ref(pb2, namespace, metadata, name="scaledobject"):
    return pb2.ScaledObjectRef(name=name, namespace=namespace, scalerMetadata=metadata)


def call_all(pb2, pb2_grpc, channel, namespace, metadata, stream_messages=1, timeout=10, name="scaledobject"):
    """Calls every RPC once; returns a dict of results. Errors are {"code": NAME, "message": text}."""
    stub = pb2_grpc.ExternalScalerStub(channel)
    r = ref(pb2, namespace, metadata, name)
    out = {}

    def attempt(name, fn):
        try:
            out[name] = fn()
        except grpc.RpcError as e:
            out[name] = {"code": e.code().name, "message": e.details()}

    attempt("GetMetricSpec", lambda: [
        {"metricName": s.metricName, "targetSize": s.targetSize, "targetSizeFloat": s.targetSizeFloat}
        for s in stub.GetMetricSpec(r, timeout=timeout).metricSpecs])
    attempt("GetMetrics", lambda: [
        {"metricName": v.metricName, "metricValue": v.metricValue, "metricValueFloat": v.metricValueFloat}
        for v in stub.GetMetrics(pb2.GetMetricsRequest(scaledObjectRef=r, metricName=""), timeout=timeout)
        .metricValues])
    attempt("IsActive", lambda: stub.IsActive(r, timeout=timeout).result)

    def stream():
        it = stub.StreamIsActive(r, timeout=timeout)
        got = []
        for msg in it:
            got.append(msg.result)
            if len(got) >= stream_messages:
                it.cancel()
                break
        return got
    attempt("StreamIsActive", stream)
    return out


# ---------------------------------------------------------------------------------------------- selftest


class TestServer:
    """keda_test_server as a child process, driven over stdin."""

    def __init__(self, binary, args=()):
        self.proc = subprocess.Popen([binary, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError("keda_test_server did not start: %r" % line)
        self.port = int(line.split()[1])
        self.address = "127.0.0.1:%d" % self.port

    def cmd(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if not answer.startswith("ok"):
            raise RuntimeError("keda_test_server: %s -> %s" % (text, answer))
        return answer

    def quit(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        return self.proc.wait(timeout=30)


def make_certs(d):
    def run(*args):
        subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def leaf(name, cn, ext, ca="ca"):
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{d}/{name}.key",
            "-out", f"{d}/{name}.csr", "-subj", f"/CN={cn}")
        with open(f"{d}/{name}.ext", "w") as f:
            f.write(ext)
        run("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/{ca}.crt", "-CAkey", f"{d}/{ca}.key",
            "-CAcreateserial", "-out", f"{d}/{name}.crt", "-days", "1", "-sha256", "-extfile", f"{d}/{name}.ext")

    for ca in ("ca", "other-ca"):
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            f"{d}/{ca}.key", "-out", f"{d}/{ca}.crt", "-days", "1", "-subj", f"/CN={ca}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    leaf("server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    leaf("client", "keda-operator", "extendedKeyUsage=clientAuth\n")
    leaf("stranger", "stranger", "extendedKeyUsage=clientAuth\n", ca="other-ca")
    # Signed by the right CA, but not on the server's allowlist (--client-names).
    leaf("intruder", "intruder", "extendedKeyUsage=clientAuth\n")
    # A second allowed client, named by a DNS SAN only.
    leaf("client-b", "not-listed", "subjectAltName=DNS:keda-b.keda.svc\nextendedKeyUsage=clientAuth\n")


class Checker:
    def __init__(self):
        self.failures = 0

    def eq(self, what, got, want):
        if got != want:
            self.failures += 1
            print("FAIL %s: got %r, want %r" % (what, got, want))
        else:
            print("ok   %s" % what)

    def true(self, what, cond, detail=""):
        self.eq(what + (" (%s)" % detail if detail and not cond else ""), bool(cond), True)


def read_next(iterator, box):
    """Appends the next stream message (or the exception that ended the stream) to box; the call's deadline bounds
    the wait."""
    try:
        box.append(next(iterator).result)
    except (StopIteration, grpc.RpcError) as e:
        box.append(e)


def selftest_mode(pb2, pb2_grpc, server, channel, check, mode):
    ns = "kserve-test"
    stub = pb2_grpc.ExternalScalerStub(channel)
    server.cmd(f"set conc {ns} predictor-a-1 30")
    server.cmd(f"set conc {ns} predictor-a-2 45.5")
    server.cmd(f"set conc {ns} other-1 7")
    server.cmd(f"labels {ns} predictor-a-1 serving.kserve.io/inferenceservice=model-a,component=predictor")
    server.cmd(f"labels {ns} predictor-a-2 serving.kserve.io/inferenceservice=model-a,component=predictor")
    server.cmd(f"labels {ns} other-1 app=other")
    server.cmd(f"set cpu_usage {ns} predictor-a-1 0.2")
    server.cmd(f"set cpu_usage {ns} predictor-a-2 0.4")
    server.cmd(f"set cpu_request {ns} predictor-a-1 0.5")
    server.cmd(f"set cpu_request {ns} predictor-a-2 0.5")

    kserve = {"scalerAddress": server.address, "metric": "concurrency", "inferenceService": "model-a",
              "containerConcurrency": "100", "targetUtilizationPercentage": "70"}
    res = call_all(pb2, pb2_grpc, channel, ns, kserve)
    check.eq(f"[{mode}] GetMetricSpec concurrency", res["GetMetricSpec"],
             [{"metricName": "concurrency-model-a", "targetSize": 70, "targetSizeFloat": 70.0}])
    check.eq(f"[{mode}] GetMetrics concurrency (pods of model-a)", res["GetMetrics"],
             [{"metricName": "concurrency-model-a", "metricValue": 76, "metricValueFloat": 75.5}])
    check.eq(f"[{mode}] IsActive", res["IsActive"], True)
    check.eq(f"[{mode}] StreamIsActive first message", res["StreamIsActive"], [True])

    cpu = {"metric": "cpu", "inferenceService": "model-a", "targetUtilizationPercentage": "50"}
    res = call_all(pb2, pb2_grpc, channel, ns, cpu)
    spec = res["GetMetricSpec"]
    check.true(f"[{mode}] GetMetricSpec cpu = 50% of 0.5 cores", isinstance(spec, list) and len(spec) == 1
               and abs(spec[0]["targetSizeFloat"] - 0.25) < 1e-9 and spec[0]["targetSize"] == 1, spec)
    values = res["GetMetrics"]
    check.true(f"[{mode}] GetMetrics cpu total", isinstance(values, list)
               and abs(values[0]["metricValueFloat"] - 0.6) < 1e-9, values)

    everything = call_all(pb2, pb2_grpc, channel, ns, {"metric": "concurrency", "activationThreshold": "100"})
    check.true(f"[{mode}] GetMetrics whole namespace", abs(everything["GetMetrics"][0]["metricValueFloat"] - 82.5)
               < 1e-9, everything["GetMetrics"])
    check.eq(f"[{mode}] IsActive below activationThreshold", everything["IsActive"], False)

    bad = call_all(pb2, pb2_grpc, channel, ns, {"metric": "nope"})
    for rpc in ("GetMetricSpec", "GetMetrics", "IsActive", "StreamIsActive"):
        check.eq(f"[{mode}] {rpc} unknown metric", bad[rpc].get("code") if isinstance(bad[rpc], dict) else bad[rpc],
                 "NOT_FOUND")
    bad = call_all(pb2, pb2_grpc, channel, ns, {"metric": "concurrency", "target": "NaN"})
    check.eq(f"[{mode}] GetMetricSpec NaN target", bad["GetMetricSpec"]["code"], "INVALID_ARGUMENT")
    check.true(f"[{mode}] message names the key", "scalerMetadata.target" in bad["GetMetricSpec"]["message"],
               bad["GetMetricSpec"])
    bad = call_all(pb2, pb2_grpc, channel, ns, {})
    check.eq(f"[{mode}] no metadata", bad["GetMetrics"]["code"], "INVALID_ARGUMENT")

    # Prometheus down for a namespace never sampled: UNAVAILABLE, not zero.
    server.cmd("down 1")
    down = call_all(pb2, pb2_grpc, channel, "fresh-ns", {"metric": "concurrency"})
    check.eq(f"[{mode}] GetMetrics with Prometheus down", down["GetMetrics"].get("code"), "UNAVAILABLE")
    server.cmd("down 0")

    # StreamIsActive: initial state, then a push when the workload goes from idle to busy.
    server.cmd(f"set conc {ns} idle-1 0")
    server.cmd(f"labels {ns} idle-1 serving.kserve.io/inferenceservice=model-b")
    stream = stub.StreamIsActive(ref(pb2, ns, {"metric": "concurrency", "inferenceService": "model-b"}),
                                 timeout=30)
    box = []
    read_next(stream, box)
    check.eq(f"[{mode}] stream initial state", box, [False])
    server.cmd(f"set conc {ns} idle-1 3")
    server.cmd("tick")
    box = []
    read_next(stream, box)
    check.eq(f"[{mode}] stream pushes true on load", box, [True])
    server.cmd(f"set conc {ns} idle-1 0")
    server.cmd("tick")
    box = []
    read_next(stream, box)
    check.eq(f"[{mode}] stream pushes false when idle", box, [False])
    stream.cancel()

    # Streams opened and dropped are released.
    dropped = [stub.StreamIsActive(ref(pb2, ns, {"metric": "concurrency"}), timeout=30) for _ in range(50)]
    for s in dropped:
        next(s)
    for s in dropped:
        s.cancel()
    server.cmd("waitstreams 0")  # the server waits (bounded) for the cancellations to land
    check.eq(f"[{mode}] dropped streams released", server.cmd("streams"), "ok 0")

    check.eq(f"[{mode}] health ''", health_check(channel, ""), 1)
    check.eq(f"[{mode}] health {SERVICE}", health_check(channel, SERVICE), 1)
    check.true(f"[{mode}] reflection lists {SERVICE}", SERVICE.encode() in reflection_list_services(channel))

    # A stream open at shutdown is finished cleanly (status OK).
    last = stub.StreamIsActive(ref(pb2, ns, {"metric": "concurrency"}), timeout=30)
    box = []
    read_next(last, box)
    check.eq(f"[{mode}] stream before shutdown", box, [True])
    code = server.quit()
    check.eq(f"[{mode}] test server exit status", code, 0)
    rest = list(last)
    check.eq(f"[{mode}] stream ends at shutdown", (rest, last.code().name), ([], "OK"))


def selftest_limits(pb2, pb2_grpc, binary, certs, check):
    """Bounds: one client's streams beyond --max-streams-per-client get RESOURCE_EXHAUSTED (over mutual TLS: the
    client is its certificate name, whatever connection it uses) while another client's stream still gets pushes;
    an oversized request is refused."""
    ns = "limits"
    server = TestServer(binary, ["--tls-cert", f"{certs}/server.crt", "--tls-key", f"{certs}/server.key",
                                 "--client-ca", f"{certs}/ca.crt", "--max-streams-per-client", "3",
                                 "--max-receive-message-bytes", "4096"])
    try:
        server.cmd(f"set conc {ns} pod-1 0")
        channel = lambda name: make_channel(server.address, ca=f"{certs}/ca.crt",  # noqa: E731
                                            cert=f"{certs}/{name}.crt", key=f"{certs}/{name}.key")
        a1, a2, b = channel("client"), channel("client"), channel("client-b")
        stub = lambda ch: pb2_grpc.ExternalScalerStub(ch)  # noqa: E731
        r = ref(pb2, ns, {"metric": "concurrency"})
        held = []
        for i in range(3):
            s = stub(a1 if i % 2 else a2).StreamIsActive(r, timeout=30)
            box = []
            read_next(s, box)
            held.append(s)
            check.eq(f"[limits] client A stream {i + 1} opens", box, [False])
        refused = []
        for i in range(20):
            s = stub(a1 if i % 2 else a2).StreamIsActive(r, timeout=30)
            box = []
            read_next(s, box)
            refused.append(box[0].code().name if isinstance(box[0], grpc.RpcError) else box[0])
        check.eq("[limits] client A's 20 extra streams refused", set(refused), {"RESOURCE_EXHAUSTED"})
        check.eq("[limits] open streams", server.cmd("streams"), "ok 3")
        other = stub(b).StreamIsActive(r, timeout=30)
        box = []
        read_next(other, box)
        check.eq("[limits] client B's stream opens", box, [False])
        server.cmd(f"set conc {ns} pod-1 5")
        server.cmd("tick")
        box = []
        read_next(other, box)
        check.eq("[limits] client B's stream gets a push", box, [True])
        big = call_all(pb2, pb2_grpc, a1, ns, {"metric": "concurrency", "padding": "x" * 5000}, timeout=10)
        check.eq("[limits] oversized request refused", big["GetMetrics"].get("code"), "RESOURCE_EXHAUSTED")
        for s in held + [other]:
            s.cancel()
        server.cmd("waitstreams 0")
    finally:
        server.quit()


def selftest(args):
    pb2, pb2_grpc = load_stubs(args.proto)
    check = Checker()
    certs = tempfile.mkdtemp(prefix="keda-certs-")
    try:
        make_certs(certs)
        # Without TLS files and without --insecure the server refuses to start.
        refused = subprocess.run([args.server_binary], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=60)
        check.true("plaintext without --insecure refused", refused.returncode != 0 and "--grpc-insecure"
                   in refused.stderr, refused.stderr.strip())
        for mode in ("plain", "tls", "mtls"):
            server_args = ["--insecure"] if mode == "plain" else []
            if mode != "plain":
                server_args += ["--tls-cert", f"{certs}/server.crt", "--tls-key", f"{certs}/server.key"]
            if mode == "mtls":
                server_args += ["--client-ca", f"{certs}/ca.crt", "--client-names", "keda-operator,keda-b.keda.svc"]
            server = TestServer(args.server_binary, server_args)
            try:
                if mode == "plain":
                    channel = make_channel(server.address)
                elif mode == "tls":
                    channel = make_channel(server.address, ca=f"{certs}/ca.crt")
                    plain = call_all(pb2, pb2_grpc, make_channel(server.address), "ns", {"metric": "concurrency"},
                                     timeout=5)
                    check.eq("[tls] plaintext client refused", plain["GetMetrics"].get("code"), "UNAVAILABLE")
                else:
                    channel = make_channel(server.address, ca=f"{certs}/ca.crt", cert=f"{certs}/client.crt",
                                           key=f"{certs}/client.key")
                    for who, extra, code in (
                            ("no client certificate", {}, "UNAVAILABLE"),
                            ("certificate from another CA", {"cert": f"{certs}/stranger.crt",
                                                             "key": f"{certs}/stranger.key"}, "UNAVAILABLE"),
                            ("right CA, name not allowed", {"cert": f"{certs}/intruder.crt",
                                                            "key": f"{certs}/intruder.key"}, "PERMISSION_DENIED")):
                        other = make_channel(server.address, ca=f"{certs}/ca.crt", **extra)
                        res = call_all(pb2, pb2_grpc, other, "ns", {"metric": "concurrency"}, timeout=5)
                        for rpc in ("GetMetricSpec", "GetMetrics", "IsActive", "StreamIsActive"):
                            got = res[rpc].get("code") if isinstance(res[rpc], dict) else res[rpc]
                            check.eq(f"[mtls] {who}: {rpc} refused", got, code)
                    by_san = make_channel(server.address, ca=f"{certs}/ca.crt", cert=f"{certs}/client-b.crt",
                                          key=f"{certs}/client-b.key")
                    res = call_all(pb2, pb2_grpc, by_san, "ns", {"metric": "concurrency"}, timeout=10)
                    check.true("[mtls] allowed by DNS SAN", isinstance(res["GetMetricSpec"], list), res)
                selftest_mode(pb2, pb2_grpc, server, channel, check, mode)
            finally:
                if server.proc.poll() is None:
                    server.proc.kill()
                    server.proc.wait()
        selftest_limits(pb2, pb2_grpc, args.server_binary, certs, check)
    finally:
        shutil.rmtree(certs, ignore_errors=True)
    print("%d failure(s)" % check.failures)
    return 1 if check.failures else 0


def call(args):
    pb2, pb2_grpc = load_stubs(args.proto)
    metadata = {}
    for kv in args.metadata:
        if "=" not in kv:
            raise SystemExit("metadata must be key=value: %r" % kv)
        k, v = kv.split("=", 1)
        metadata[k] = v
    results = {}
    for address in args.address:
        channel = make_channel(address, args.ca, args.cert, args.key, args.server_name)
        out = call_all(pb2, pb2_grpc, channel, args.namespace, metadata, args.stream_messages, args.timeout)
        try:
            out["health"] = {"": health_check(channel, ""), SERVICE: health_check(channel, SERVICE)}
        except grpc.RpcError as e:
            out["health"] = {"code": e.code().name, "message": e.details()}
        results[address] = out
    failed = any(isinstance(v, dict) and "code" in v for out in results.values() for v in out.values())
    print(json.dumps(results if len(args.address) > 1 else results[args.address[0]], indent=2, sort_keys=True))
    return 1 if failed else 0


def scaledobjects(args):
    import yaml  # Debian python3-yaml; only this mode needs it

    pb2, pb2_grpc = load_stubs(args.proto)
    mapping = []
    for m in args.server_map:
        if "=" not in m:
            raise SystemExit("--server-map must be FROM=TO: %r" % m)
        mapping.append(tuple(m.split("=", 1)))
    channel = make_channel(args.address)
    out = []
    for path in args.files:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for doc in docs:
            if doc.get("kind") != "ScaledObject":
                continue
            name = doc["metadata"]["name"]
            namespace = doc["metadata"].get("namespace", "default")
            for i, trigger in enumerate(doc["spec"].get("triggers", [])):
                if trigger.get("type") not in ("prometheus", "external"):
                    continue
                metadata = {k: str(v) for k, v in (trigger.get("metadata") or {}).items()}
                server = metadata.get("serverAddress", "")
                for frm, to in mapping:
                    if server.startswith(frm):
                        metadata["serverAddress"] = to + server[len(frm):]
                        break
                metadata["scalerAddress"] = args.address
                out.append({"file": os.path.basename(path), "scaledObject": name, "namespace": namespace,
                            "trigger": i, "type": trigger["type"], "metadata": metadata,
                            "results": call_all(pb2, pb2_grpc, channel, namespace, metadata, 1, args.timeout,
                                                name)})
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("selftest")
    s.add_argument("--server-binary", required=True)
    s.add_argument("--proto", default=DEFAULT_PROTO)
    c = sub.add_parser("call")
    c.add_argument("--address", action="append", required=True)
    c.add_argument("--namespace", default="default")
    c.add_argument("--ca")
    c.add_argument("--cert")
    c.add_argument("--key")
    c.add_argument("--server-name")
    c.add_argument("--stream-messages", type=int, default=1)
    c.add_argument("--timeout", type=float, default=10)
    c.add_argument("--proto", default=DEFAULT_PROTO)
    c.add_argument("metadata", nargs="*", help="trigger metadata, key=value")
    o = sub.add_parser("scaledobjects")
    o.add_argument("--address", required=True)
    o.add_argument("--server-map", action="append", default=[], help="FROM=TO, a serverAddress prefix")
    o.add_argument("--timeout", type=float, default=10)
    o.add_argument("--proto", default=DEFAULT_PROTO)
    o.add_argument("files", nargs="+")
    args = p.parse_args()
    return {"selftest": selftest, "call": call, "scaledobjects": scaledobjects}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())

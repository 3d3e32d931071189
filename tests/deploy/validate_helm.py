#!/usr/bin/python3
"""Checks the Helm chart deploy/helm/autoscale-adapter with the build folder's pinned helm.

Modes:
  check   (always runs; needs no CRD schemas)
    - `helm lint --strict` of the chart, alone and with every value file of testdata/helm/;
    - every testdata/helm/bad/*.yaml makes `helm template` and `helm lint --strict` fail, with each of its
      `# expect: TEXT` lines in helm's error (a misspelt value is an error, thanks to values.schema.json);
      `# lint: accepts` marks a file only the template's fail() refuses, which helm lint logs and passes;
    - `helm template` with every testdata/helm/*.yaml (header lines `# release: NAME` and `# namespace: NS`,
      default autoscale-adapter for both), and for each render:
        * every core object against the Kubernetes schema (validate_k8s.js, unknown fields included), the
          cert-manager and Prometheus Operator objects' metadata as ObjectMeta (their specs: mode `crds`);
        * what validate_manifests.py checks in deploy/'s render: the adapter accepts the ConfigMap's config with
          the Deployment's flags (`autoscale-adapter <args> --check-config`), cross references, hardening, RBAC
          (the extension-apiserver-authentication-reader RoleBinding in kube-system, bound to the ServiceAccount
          of the release namespace); for the defaults the adapter is also started with the Deployment's flags;
          (check_tls: the APIServices skip verification of the generated certificate, or cert-manager's
          Certificate, issued by the render's CA, is injected, mounted and served; check_monitors: what the
          ServiceMonitor/PodMonitor scrape);
        * what the values ask for: exactly the APIServices enabled, cert-manager's CA injected exactly with
          certManager, the serving Certificate covering both Services (KEDA dials the gRPC one) and gRPC TLS
          serving it; every file the config names in a mounted Secret or ConfigMap (the named one and key); the
          monitors, NetworkPolicy and scheduling values;
  compare the chart's defaults render the same objects as `kubectl kustomize deploy/` (run now, so it follows
          whatever deploy/ is), and with apiServices.externalMetrics or .resourceMetrics on the same as
          deploy/overlays/external-metrics or resource-metrics, after the normalisation stated in normalise().
  crds    the cert-manager.io and monitoring.coreos.com objects of every render against the openAPIV3Schema of
          their CRDs in ../shared/schemas (never copied into the project); exit 77 (skipped) when that folder or
          those CRDs are absent.
Prints every problem and "N passed, N failed"; exit 1 on any problem.
"""

import argparse
import copy
import glob
import os
import re
import sys

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import validate_manifests as vm  # noqa: E402

CHART = os.path.join("deploy", "helm", "autoscale-adapter")
CR_GROUPS = {"cert-manager.io", "monitoring.coreos.com"}
APIS = {"customMetrics": ["v1beta2.custom.metrics.k8s.io", "v1beta1.custom.metrics.k8s.io"],
        "externalMetrics": ["v1beta1.external.metrics.k8s.io"],
        "resourceMetrics": ["v1beta1.metrics.k8s.io"]}
# Labels Helm charts put on their objects by convention (and the chart's selectors add the instance label,
# so that two releases never select each other's pods).
HELM_LABELS = {"helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
               "app.kubernetes.io/managed-by"}


class Helm:
    def __init__(self, ctx, helm):
        self.ctx = ctx
        self.helm = helm
        self.chart = os.path.join(ctx.root, CHART)

    def run(self, *args):
        return vm.run([self.helm, *args])

    def template(self, release="autoscale-adapter", namespace="autoscale-adapter", values_file=None, sets=()):
        args = ["template", release, self.chart, "--namespace", namespace]
        if values_file:
            args += ["-f", values_file]
        for s in sets:
            args += ["--set", s]
        return self.run(*args)


def deep_merge(base, over):
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def header(path, key, default):
    with open(path, encoding="utf-8") as f:
        m = re.search(rf"^# {key}: (\S+)$", f.read(), re.M)
    return m.group(1) if m else default


def group_of(o):
    return str(o.get("apiVersion", "")).rpartition("/")[0]


# -- the render against the values -------------------------------------------------------------------------------
def check_chart_render(ctx, source, objects, values, ns):
    """What the values ask for, beyond what validate_manifests.check_deploy_render checks."""
    p = lambda msg: ctx.problem(source, msg)  # noqa: E731
    deps = vm.find(objects, "Deployment")
    if len(deps) != 1:
        return
    dep = deps[0]
    pod = dep["spec"]["template"]
    pod_labels = pod["metadata"].get("labels") or {}
    spec = pod["spec"]
    container = spec["containers"][0]
    args = container.get("args", [])
    mounts = {m["mountPath"].rstrip("/"): m["name"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}

    def volume_of(path):
        """(volume, file name) of a file path inside a mounted volume, or (None, None)."""
        d, _, name = path.rpartition("/")
        v = volumes.get(mounts.get(d))
        return (v, name) if v else (None, None)

    # APIServices: exactly those enabled, verified with cert-manager's CA when it is on (check_tls checks the
    # Certificate, its issuers and that the pods serve it).
    apis = {o["metadata"]["name"]: o for o in vm.find(objects, "APIService")}
    want = sorted(n for key, names in APIS.items() if values["apiServices"][key]["enabled"] for n in names)
    if sorted(apis) != want:
        p(f"APIServices {sorted(apis)}, expected {want} (apiServices values)")
    cert_manager = values["certManager"]["enabled"]
    for name, api in sorted(apis.items()):
        if (vm.INJECT_CA in (api["metadata"].get("annotations") or {})) != cert_manager:
            p(f"APIService {name}: {vm.INJECT_CA} must be there exactly when certManager.enabled")
    tls_cert = vm.flag_value(args, "--tls-cert-file")
    if cert_manager:
        # The serving certificate covers both Services; the gRPC one (when cert-manager issues it) the gRPC Service
        # KEDA dials. Client certificates (KEDA's) name no Service.
        services = [s["metadata"]["name"] for s in vm.find(objects, "Service", namespace=ns)]
        for c in vm.find(objects, "Certificate", namespace=ns):
            usages = c["spec"].get("usages") or []
            if c["spec"].get("isCA") or "server auth" not in usages:
                continue
            wanted = services if c["metadata"]["name"].endswith("-serving") else \
                [svc for svc in services if not svc.endswith("-api")]
            missing = [f"{svc}.{ns}.svc" for svc in wanted if f"{svc}.{ns}.svc" not in c["spec"].get("dnsNames", [])]
            if missing:
                p(f"Certificate {c['metadata']['name']}: no dnsNames {missing}")

    # The config's files: each in a mounted Secret or ConfigMap; gRPC TLS serves the serving certificate.
    cms = vm.find(objects, "ConfigMap", namespace=ns)
    config = yaml.safe_load(cms[0]["data"]["config.yaml"]) if cms else {}
    prom = config.get("prometheus") or {}
    files = {"prometheus.bearerTokenFile": prom.get("bearerTokenFile"),
             "prometheus.basicAuth.passwordFile": (prom.get("basicAuth") or {}).get("passwordFile")}
    files.update({f"prometheus.tls.{k}": (prom.get("tls") or {}).get(k) for k in ("caFile", "certFile", "keyFile")})
    files.update({f"keda.tls.{k}": ((config.get("keda") or {}).get("tls") or {}).get(k)
                  for k in ("certFile", "keyFile", "clientCAFile")})
    for key, path in files.items():
        if path is None:
            continue
        v, _ = volume_of(path)
        if not v or not ("secret" in v or "configMap" in v):
            p(f"config {key}: {path} is not in a mounted Secret or ConfigMap")
    pv = values["prometheus"]
    for key, secret, file in (("prometheus.bearerTokenFile", pv["bearerToken"]["secretName"], pv["bearerToken"]["key"]),
                              ("prometheus.basicAuth.passwordFile", pv["basicAuth"]["passwordSecretName"],
                               pv["basicAuth"]["passwordKey"]),
                              ("prometheus.tls.caFile", pv["tls"]["ca"]["secretName"] or pv["tls"]["ca"]["configMapName"],
                               pv["tls"]["ca"]["key"])):
        if not secret:
            continue
        v, name = volume_of(files[key] or "")
        source_name = v and ((v.get("secret") or {}).get("secretName") or (v.get("configMap") or {}).get("name"))
        if source_name != secret or name != file:
            p(f"config {key}: {files[key]} is not key {file} of {secret}")
    # gRPC: mutual TLS from the Secret grpc.tls.secretName (default <fullname>-grpc-tls), which cert-manager issues
    # with certManager.enabled; the client CA from grpc.tls.clientCA when set; the allowlist from grpc.clientNames.
    gv = values["grpc"]
    if not gv["insecure"]:
        fullname = dep["metadata"]["name"]
        secret = gv["tls"]["secretName"] or f"{fullname}-grpc-tls"
        for flag, want in (("--grpc-tls-cert-file", (secret, "tls.crt")), ("--grpc-tls-key-file", (secret, "tls.key")),
                           ("--grpc-client-ca-file", (gv["tls"]["clientCA"]["secretName"] or secret,
                                                      gv["tls"]["clientCA"]["key"] if gv["tls"]["clientCA"]["secretName"]
                                                      else "ca.crt"))):
            v, name = volume_of(vm.flag_value(args, flag) or "")
            if not v or ((v.get("secret") or {}).get("secretName"), name) != want:
                p(f"{flag}={vm.flag_value(args, flag)} is not key {want[1]} of Secret {want[0]}")
        names = vm.flag_value(args, "--grpc-client-names")
        if (names.split(",") if names else []) != gv["clientNames"]:
            p(f"--grpc-client-names={names} is not grpc.clientNames {gv['clientNames']}")
        issued = [c for c in vm.find(objects, "Certificate", namespace=ns) if c["spec"].get("secretName") == secret]
        if cert_manager and not gv["tls"]["secretName"] and not issued:
            p(f"certManager.enabled: no Certificate issues the gRPC Secret {secret}")

    # Prometheus Operator monitors (check_monitors checks what they scrape): as many as enabled, with their labels.
    for kind, key in (("ServiceMonitor", "serviceMonitor"), ("PodMonitor", "podMonitor")):
        ms = vm.find(objects, kind)
        if len(ms) != (1 if values[key]["enabled"] else 0):
            p(f"{len(ms)} {kind} with {key}.enabled {values[key]['enabled']}")
        for m in ms:
            if m["metadata"]["namespace"] != (values[key]["namespace"] or ns):
                p(f"{vm.obj_id(m)}: not in {key}.namespace")
            for k, v in values[key]["labels"].items():
                if (m["metadata"].get("labels") or {}).get(k) != v:
                    p(f"{vm.obj_id(m)}: lacks the label {k}={v} of {key}.labels")

    # NetworkPolicy: selects the pods and lets each of the three ports in.
    nps = vm.find(objects, "NetworkPolicy", namespace=ns)
    if len(nps) != (1 if values["networkPolicy"]["enabled"] else 0):
        p(f"{len(nps)} NetworkPolicy with networkPolicy.enabled {values['networkPolicy']['enabled']}")
    for np in nps:
        if not vm.selector_matches(np["spec"]["podSelector"].get("matchLabels"), pod_labels):
            p(f"{vm.obj_id(np)}: does not select the adapter's pods")
        allowed = {pt.get("port") for rule in np["spec"].get("ingress", []) for pt in rule.get("ports", [])}
        for port in ("https", "grpc", "http"):
            if port not in allowed:
                p(f"{vm.obj_id(np)}: no ingress rule for port {port}")
            peers = values["networkPolicy"][port]["from"]
            rules = [r for r in np["spec"].get("ingress", []) if any(pt.get("port") == port for pt in r.get("ports", []))]
            if peers and not any(r.get("from") == peers for r in rules):
                p(f"{vm.obj_id(np)}: port {port} is not limited to networkPolicy.{port}.from")
        if bool(values["networkPolicy"]["egress"]) != ("Egress" in np["spec"].get("policyTypes", [])):
            p(f"{vm.obj_id(np)}: policyTypes {np['spec'].get('policyTypes')} do not follow networkPolicy.egress")

    # Scheduling values reach the pod spec.
    for key in ("priorityClassName", "nodeSelector", "tolerations"):
        if values[key] and spec.get(key) != values[key]:
            p(f"pod spec {key} {spec.get(key)!r} is not the value {values[key]!r}")
    if values["hostNetwork"] and (not spec.get("hostNetwork") or spec.get("dnsPolicy") != "ClusterFirstWithHostNet"):
        p("hostNetwork: the pod needs hostNetwork true and dnsPolicy ClusterFirstWithHostNet")
    for t in spec.get("topologySpreadConstraints", []):
        if not vm.selector_matches((t.get("labelSelector") or {}).get("matchLabels"), pod_labels):
            p(f"topologySpreadConstraint {t.get('topologyKey')}: its labelSelector does not select the adapter's pods")
    if len(spec.get("topologySpreadConstraints", [])) != len(values["topologySpreadConstraints"]):
        p("topologySpreadConstraints: not the values' constraints")


# -- chart defaults == deploy/ -------------------------------------------------------------------------------------
def normalise(kustomize, chart):
    """Copies of the two renders ({(apiVersion, kind, namespace, name): object}) with what legitimately differs
    between a kustomize base and a Helm chart taken out:
      - deploy/'s Namespace object: a chart does not own its release namespace (`helm install
        --create-namespace` creates it), or uninstalling would delete everything in it;
      - the ConfigMap name: kustomize's configMapGenerator appends a hash of the contents (so that an edit rolls
        the pods); the chart uses a fixed name and rolls the pods through the pod template annotation
        checksum/config, which is dropped too. The hashed name is replaced by the chart's wherever it occurs;
      - the ConfigMap's config.yaml is compared as parsed YAML (comments, key order and flow style differ);
      - Helm's standard labels (HELM_LABELS) in metadata labels, pod template labels and selectors, where the
        kustomize object does not have the same key at the same place: the chart labels every object as Helm
        charts do, and its selectors add app.kubernetes.io/instance so two releases never select each other's pods;
      - container flags are compared with '-' for '_' in their names (the adapter accepts both spellings).
    Everything else must be equal: kinds, names, namespaces, specs, rules, ports, probes, args, images."""
    kustomize = copy.deepcopy(kustomize)
    chart = copy.deepcopy(chart)
    for key in [k for k in kustomize if k[1] == "Namespace"]:
        del kustomize[key]
    renamed = {}
    for key in [k for k in kustomize if k[1] == "ConfigMap"]:
        m = re.fullmatch(r"(.*)-[a-z0-9]{10}", key[3])
        if m and (key[0], key[1], key[2], m.group(1)) in chart:
            renamed[key[3]] = m.group(1)

    def rename(node):
        if isinstance(node, dict):
            return {k: rename(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rename(v) for v in node]
        return renamed.get(node, node) if isinstance(node, str) else node

    kustomize = {(k[0], k[1], k[2], renamed.get(k[3], k[3])): rename(o) for k, o in kustomize.items()}
    for objs in (kustomize, chart):
        for key, o in objs.items():
            if key[1] == "ConfigMap" and "config.yaml" in (o.get("data") or {}):
                o["data"]["config.yaml"] = yaml.safe_load(o["data"]["config.yaml"])
            for c in (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers", []):
                c["args"] = [("--" + vm.flag_name(a)[2:] + a[len(a.split("=", 1)[0]):]) if a.startswith("--") else a
                             for a in c.get("args", [])]
    for key, o in chart.items():
        tmpl = (o.get("spec") or {}).get("template") or {}
        annotations = (tmpl.get("metadata") or {}).get("annotations") or {}
        annotations.pop("checksum/config", None)
        if tmpl and not annotations:
            tmpl["metadata"].pop("annotations", None)
        if key in kustomize:
            drop_helm_labels(chart[key], kustomize[key], [])
    return kustomize, chart


def drop_helm_labels(chart, kustomize, path):
    """Removes HELM_LABELS keys from the label maps of `chart` that `kustomize` lacks at the same place."""
    if isinstance(chart, dict):
        is_labels = path and (path[-1] in ("labels", "matchLabels") or path[-2:] == ["spec", "selector"])
        for k in list(chart):
            if is_labels and k in HELM_LABELS and not (isinstance(kustomize, dict) and k in kustomize):
                del chart[k]
            elif isinstance(kustomize, dict) and k in kustomize:
                drop_helm_labels(chart[k], kustomize[k], path + [k])
            else:
                drop_helm_labels(chart[k], None, path + [k])
    elif isinstance(chart, list):
        for i, v in enumerate(chart):
            drop_helm_labels(v, kustomize[i] if isinstance(kustomize, list) and i < len(kustomize) else None,
                             path + [str(i)])


def differences(a, b, path=""):
    """Paths where a (deploy/) and b (chart) differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if k not in b:
                out.append(f"{path}.{k}: only in deploy/ ({a[k]!r})")
            elif k not in a:
                out.append(f"{path}.{k}: only in the chart ({b[k]!r})")
            else:
                out += differences(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: deploy/ {a!r}, chart {b!r}"]


def compare_with_kustomize(ctx, helm, name, kustomize_path, sets):
    r = vm.run([ctx.kubectl, "kustomize", kustomize_path])
    if r.returncode != 0:
        ctx.problem(name, f"kubectl kustomize {kustomize_path}: {r.stderr.strip()}")
        return
    h = helm.template(sets=sets)
    if h.returncode != 0:
        ctx.problem(name, f"helm template: {h.stderr.strip()}")
        return

    def index(text):
        docs = vm.load_docs(text, name, ctx)
        return {(o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in docs}

    kustomize, chart = normalise(index(r.stdout), index(h.stdout))
    for key in sorted(set(kustomize) | set(chart), key=str):
        what = f"{key[1]} {key[2] + '/' if key[2] else ''}{key[3]}"
        if key not in chart:
            ctx.problem(name, f"{what}: rendered by kustomize, not by the chart")
        elif key not in kustomize:
            ctx.problem(name, f"{what}: rendered by the chart, not by kustomize")
        else:
            for d in differences(kustomize[key], chart[key]):
                ctx.problem(name, f"{what}: {d}")
    print(f"  {name}: {len(chart)} objects compared")


# -- modes -------------------------------------------------------------------------------------------------------
def value_files(ctx):
    files = sorted(glob.glob(os.path.join(ctx.root, "tests", "deploy", "testdata", "helm", "*.yaml")))
    if not files:
        raise SystemExit("no value files in tests/deploy/testdata/helm")
    return files


def render_all(ctx, helm):
    """[(source, values file, release namespace, objects)] for every value file."""
    out = []
    for path in value_files(ctx):
        release, ns = header(path, "release", "autoscale-adapter"), header(path, "namespace", "autoscale-adapter")
        source = f"helm template {release} -n {ns} -f {os.path.relpath(path, ctx.root)}"
        r = helm.template(release, ns, path)
        if r.returncode != 0:
            ctx.problem(source, r.stderr.strip())
            continue
        objects = vm.load_docs(r.stdout, source, ctx)
        if not objects:
            ctx.problem(source, "renders nothing")
        out.append((source, path, ns, objects))
    return out


def mode_check(ctx, helm):
    sources = []
    with open(os.path.join(helm.chart, "values.yaml"), encoding="utf-8") as f:
        defaults = yaml.safe_load(f)
    # Lint, alone and with each value file.
    lint_files = [None] + value_files(ctx)
    for path in lint_files:
        name = "helm lint --strict" + (f" -f {os.path.relpath(path, ctx.root)}" if path else "")
        sources.append(name)
        r = helm.run("lint", "--strict", helm.chart, *(["-f", path] if path else []))
        if r.returncode != 0:
            ctx.problem(name, (r.stdout + r.stderr).strip())
    # Misspelt and contradictory values are errors.
    for path in sorted(glob.glob(os.path.join(ctx.root, "tests", "deploy", "testdata", "helm", "bad", "*.yaml"))):
        name = os.path.relpath(path, ctx.root)
        sources.append(name)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        expected = re.findall(r"^# expect: (.+)$", text, re.M)
        if not expected:
            ctx.problem(name, "no '# expect:' line")
        runs = [("helm template", helm.template(values_file=path))]
        if not re.search(r"^# lint: accepts", text, re.M):
            runs.append(("helm lint --strict", helm.run("lint", "--strict", helm.chart, "-f", path)))
        for what, r in runs:
            out = r.stdout + r.stderr
            if r.returncode == 0:
                ctx.problem(name, f"{what} accepted it")
            for e in expected:
                if e not in out:
                    ctx.problem(name, f"{what}: expected {e!r} in its error, got: {out.strip()[-600:]}")
    # Every value file: the render, validated.
    node_input = []
    for source, path, ns, objects in render_all(ctx, helm):
        sources.append(source)
        with open(path, encoding="utf-8") as f:
            values = deep_merge(defaults, yaml.safe_load(f))
        apis = [n for key, names in APIS.items() if values["apiServices"][key]["enabled"] for n in names]
        ctx.run_adapter = os.path.basename(path) == "defaults.yaml"
        vm.check_deploy_render(ctx, source, objects, apiservices=apis, namespace_object=False)
        check_chart_render(ctx, source, objects, values, ns)
        for o in objects:
            node_input.append({"source": source, "object": o, "metadataOnly": group_of(o) in CR_GROUPS})
        print(f"  {source}: {len(objects)} objects ({', '.join(sorted({o['kind'] for o in objects}))})")
    vm.run_validate_k8s(ctx, node_input)
    return sources


def mode_compare(ctx, helm):
    sources = []
    deploy = os.path.join(ctx.root, "deploy")
    variants = [("chart defaults vs kubectl kustomize deploy/", deploy, ())]
    for api, overlay in (("externalMetrics", "external-metrics"), ("resourceMetrics", "resource-metrics")):
        variants.append((f"chart with apiServices.{api}.enabled vs deploy/overlays/{overlay}",
                         os.path.join(deploy, "overlays", overlay), (f"apiServices.{api}.enabled=true",)))
    for name, path, sets in variants:
        sources.append(name)
        compare_with_kustomize(ctx, helm, name, path, sets)
    return sources


def mode_crds(ctx, helm):
    if not os.path.isdir(ctx.schemas_dir):
        return None, f"no CRD schema folder at {ctx.schemas_dir}"
    crs = [(source, o) for source, _, _, objects in render_all(ctx, helm) for o in objects if group_of(o) in CR_GROUPS]
    crds = ctx.crds()
    missing = sorted({f"{o['apiVersion']} {o['kind']}" for _, o in crs
                      if (group_of(o), o["kind"], o["apiVersion"].rpartition("/")[2]) not in crds})
    if missing:
        return None, f"no CRD in {ctx.schemas_dir} for {', '.join(missing)}"
    sources = sorted({s for s, _ in crs})
    for source, o in crs:
        schema = crds[(group_of(o), o["kind"], o["apiVersion"].rpartition("/")[2])]
        for err in sorted(jsonschema.Draft7Validator(schema).iter_errors(o), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(x) for x in err.absolute_path) or "(root)"
            ctx.problem(source, f"{vm.obj_id(o)}: {where}: {err.message}")
    print(f"  {len(crs)} cert-manager and Prometheus Operator objects checked against their CRDs")
    return sources, None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["check", "compare", "crds"])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap.add_argument("--adapter", required=True, help="the built autoscale-adapter binary")
    ap.add_argument("--helm", required=True, help="the pinned helm (build/tools/bin/helm)")
    ap.add_argument("--kubectl", required=True, help="the pinned kubectl (build/tools/bin/kubectl)")
    ap.add_argument("--node-modules", required=True, help="node_modules installed by npm_install.sh")
    ap.add_argument("--node", default="node")
    ap.add_argument("--schemas", help="CRD folder (default: <root>/../shared/schemas)")
    args = ap.parse_args()
    args.promtool = None
    ctx = vm.Context(args)
    helm = Helm(ctx, args.helm)
    if args.mode in ("check", "compare"):
        sources = (mode_check if args.mode == "check" else mode_compare)(ctx, helm)
    else:
        sources, skipped = mode_crds(ctx, helm)
        if skipped:
            # The CRDs are data beside the repository, never copied into it; CTest reports a skip (77).
            print(f"SKIPPED: {skipped}")
            return 77
    return vm.report(ctx, sources)


if __name__ == "__main__":
    sys.exit(main())

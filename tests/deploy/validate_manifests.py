#!/usr/bin/python3
"""Validates the Kubernetes manifests of deploy/ and examples/.

Modes:
  check            every manifest of the project: `kubectl kustomize deploy/` (custom.metrics only, self-signed
                   TLS), every examples/*.yaml, and deploy/prometheus/scrape-config.yaml. Exit 77 (skipped)
                   without the CRD schema folder.
  overlays         every overlay of deploy/overlays, and every combination of deploy/components rendered in the
                   default namespace and in `monitoring` (an overlay with `namespace:` and
                   transformers/namespace): the APIServices each registers, which namespace every object is in
                   (the extension-apiserver-authentication-reader RoleBinding in kube-system), binding subjects,
                   TLS (self-signed with --tls_san, or cert-manager: inject-ca-from, Certificate names, Issuer
                   chain, the mounted Secret), and the same schema checks. Needs no CRD schemas: always runs.
  expect-failures DIR
                   each DIR/*.yaml is a broken manifest set whose `# expect: TEXT` header lines must each
                   appear in the problems reported for it (proves that the checks catch what they claim);
                   a file with `scrape_configs` is a Prometheus config; DIR/*/kustomization.yaml is a broken
                   overlay of deploy/, checked as its render.

Checks:
  - core kinds against the Kubernetes OpenAPI schema (npm kubernetes-models, validate_k8s.js), unknown
    fields included (kubectl applies with strict field validation);
  - custom resources (KServe InferenceService, KEDA ScaledObject/TriggerAuthentication) against the
    openAPIV3Schema of their CRDs in ../shared/schemas (relative to the repository root; never copied
    into the project) with python3-jsonschema, unknown fields included, and their metadata as ObjectMeta;
    cert-manager and Prometheus Operator objects the same way when that folder has their CRDs (else their
    metadata and references only, with a note);
  - the adapter accepts what the manifests give it: the ConfigMap's config and the Deployment's flags
    (`autoscale-adapter <args> --check_config`), examples/config-*.yaml, the HPA metric names and the KEDA
    trigger metadata keys (src/keda/metadata.h) and metric names;
  - the examples' HPAs and ScaledObjects scale the predictor Deployment of one of their InferenceServices,
    which leaves scaling to them (autoscalerClass external);
  - references inside the render: Services select the Deployment's pods and name its ports, the
    APIServices point at the HTTPS Service's port 443, volumes name the ConfigMap, bindings name the
    ServiceAccount, KEDA's scalerAddress is the gRPC Service; and the hardening the issue asks for
    (replicas, anti-affinity, PDB, probes, non-root, read-only root, no capabilities, seccomp);
  - the adapter started with the Deployment's arguments (listen addresses moved to 127.0.0.1:0, no cluster:
    authentication and authorization off, an unreachable Prometheus) answers the probes' paths over HTTPS as
    the probes expect (/livez 200, /readyz 503 until sampled), its certificate carries the HTTPS Service's DNS name,
    and it exits 0 on SIGTERM;
  - the Prometheus scrape config with promtool (Debian's Prometheus has no Kubernetes service discovery, so
    its kubernetes_sd_configs are checked here and replaced by static targets for promtool).
Prints every problem, then "N passed, N failed" per manifest source; exit 1 on any problem.
"""

import argparse
import copy
import glob
import itertools
import json
import os
import re
import select
import shlex
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import jsonschema
import yaml

try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

CRD_GROUPS = {"serving.kserve.io", "keda.sh"}
# Custom resources of the optional components (cert-manager, Prometheus Operator): validated against their CRDs
# when the schema folder has them, else only their metadata (and the cross-reference checks below); a note says so.
OPTIONAL_CRD_GROUPS = {"cert-manager.io", "monitoring.coreos.com"}
CLUSTER_SCOPED_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "APIService", "CustomResourceDefinition",
                        "PriorityClass", "StorageClass", "PersistentVolume", "ClusterIssuer"}
CUSTOM_METRICS_APIS = {"v1beta2.custom.metrics.k8s.io", "v1beta1.custom.metrics.k8s.io"}
EXTERNAL_METRICS_API = "v1beta1.external.metrics.k8s.io"
RESOURCE_METRICS_API = "v1beta1.metrics.k8s.io"
AUTH_READER_BINDING = "autoscale-adapter:extension-apiserver-authentication-reader"
INJECT_CA = "cert-manager.io/inject-ca-from"
# Keys KEDA itself puts into a trigger's metadata (src/keda/metadata.cc IsKedaKey).
KEDA_OWN_KEYS = {"scalerAddress", "enableTLS", "unsafeSsl", "tlsCertFile", "caCert", "tlsClientCert",
                 "tlsClientKey"}
KSD_ROLES = {"node", "service", "pod", "endpoints", "endpointslice", "ingress"}


class Context:
    def __init__(self, args):
        self.root = os.path.abspath(args.root)
        self.adapter = args.adapter
        self.kubectl = args.kubectl
        self.promtool = args.promtool
        self.node = args.node
        self.node_modules = os.path.abspath(args.node_modules)
        self.schemas_dir = os.path.abspath(args.schemas or os.path.join(self.root, "..", "shared", "schemas"))
        self.run_adapter = True
        self._crds = None
        self._keda_keys = None
        self.problems = []  # (source, message)
        self.notes = set()  # printed once at the end

    def have_schemas(self):
        return os.path.isdir(self.schemas_dir)

    def problem(self, source, message):
        self.problems.append((source, message))

    # -- CRDs ---------------------------------------------------------------------------------------
    def crds(self):
        """{(group, kind, version): strict JSON schema} from the CRD files in schemas_dir."""
        if self._crds is None:
            self._crds = {}
            files = sorted(glob.glob(os.path.join(self.schemas_dir, "*.yaml")))
            if not files and self.have_schemas():
                raise SystemExit(f"no CRD files in {self.schemas_dir} (expected ../shared/schemas beside the "
                                 "repository, or --schemas)")
            for path in files:
                with open(path, encoding="utf-8") as f:
                    for doc in yaml.load_all(f, Loader=_Loader):
                        if not doc or doc.get("kind") != "CustomResourceDefinition":
                            continue
                        spec = doc["spec"]
                        for v in spec["versions"]:
                            if not v.get("served", True):
                                continue
                            schema = strict_schema(v["schema"]["openAPIV3Schema"])
                            self._crds[(spec["group"], spec["names"]["kind"], v["name"])] = schema
        return self._crds

    def keda_keys(self):
        """The trigger metadata keys the adapter reads: the kKey* constants of src/keda/metadata.h."""
        if self._keda_keys is None:
            with open(os.path.join(self.root, "src", "keda", "metadata.h"), encoding="utf-8") as f:
                text = f.read()
            self._keda_keys = set(re.findall(r'inline constexpr std::string_view kKey\w+ = "([^"]+)";', text))
            if "metric" not in self._keda_keys:
                raise SystemExit("could not read the trigger keys from src/keda/metadata.h")
        return self._keda_keys


def strict_schema(schema):
    """A copy of a structural CRD schema where objects with declared properties refuse unknown fields
    (what the API server's strict field validation does), unless x-kubernetes-preserve-unknown-fields."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (node.get("type") == "object" and "properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def load_docs(text, source, ctx):
    try:
        return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.YAMLError as e:
        ctx.problem(source, f"YAML: {e}")
        return []


def obj_id(o):
    md = o.get("metadata") or {}
    ns = md.get("namespace")
    return f"{o.get('kind')}/{(ns + '/') if ns else ''}{md.get('name')}"


def is_crd_kind(o):
    return str(o.get("apiVersion", "")).split("/")[0] in CRD_GROUPS | OPTIONAL_CRD_GROUPS


# -- schema validation ---------------------------------------------------------------------------------
def validate_schemas(ctx, entries):
    """entries: [(source, object)]. Core kinds through validate_k8s.js, custom resources through jsonschema."""
    node_input = []
    for source, o in entries:
        if not isinstance(o, dict) or "apiVersion" not in o or "kind" not in o:
            ctx.problem(source, "not a Kubernetes object (no apiVersion/kind)")
            continue
        if is_crd_kind(o):
            group, _, version = o["apiVersion"].partition("/")
            schema = ctx.crds().get((group, o["kind"], version)) if ctx.have_schemas() else None
            if schema is None and group in OPTIONAL_CRD_GROUPS:
                ctx.notes.add(f"{o['apiVersion']} {o['kind']}: no CRD schema in {ctx.schemas_dir}; checked its "
                              "metadata and references only")
            elif schema is None:
                ctx.problem(source, f"{obj_id(o)}: no CRD in {ctx.schemas_dir} serves {o['apiVersion']} {o['kind']}")
                continue
            else:
                validator = jsonschema.Draft7Validator(schema)
                for err in sorted(validator.iter_errors(o), key=lambda e: list(e.absolute_path)):
                    where = ".".join(str(p) for p in err.absolute_path) or "(root)"
                    ctx.problem(source, f"{obj_id(o)}: {where}: {err.message}")
            node_input.append({"source": source, "object": o, "metadataOnly": True})
        else:
            node_input.append({"source": source, "object": o, "metadataOnly": False})
    run_validate_k8s(ctx, node_input)


def run_validate_k8s(ctx, node_input):
    """validate_k8s.js over [{"source", "object", "metadataOnly"}]; its problems go to ctx."""
    if not node_input:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(node_input, f)
        path = f.name
    try:
        env = dict(os.environ, NODE_PATH=ctx.node_modules)
        r = run([ctx.node, os.path.join(os.path.dirname(os.path.abspath(__file__)), "validate_k8s.js"), path],
                env=env)
    finally:
        os.unlink(path)
    if r.returncode not in (0, 1):
        raise SystemExit(f"validate_k8s.js failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")
    for line in r.stdout.splitlines():
        source, _, message = line.partition(": ")
        ctx.problem(source, message)


# -- what the adapter accepts -----------------------------------------------------------------------------
def check_adapter_config(ctx, source, config_text, extra_args=()):
    """Runs `autoscale-adapter --config FILE [args] --check_config`; returns the metric names or None."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(config_text)
        path = f.name
    try:
        args = [a for a in extra_args if flag_name(a) != "--config"]
        r = run([ctx.adapter, *args, f"--config={path}", "--check_config"], timeout=60)
    finally:
        os.unlink(path)
    if r.returncode != 0:
        msg = (r.stderr.strip() or r.stdout.strip()).replace(path, "config.yaml")
        ctx.problem(source, f"autoscale-adapter {' '.join(shlex.quote(a) for a in args)} --check_config: {msg}")
        return None
    return {line.split("\t")[0] for line in r.stdout.splitlines() if "\t" in line and " (" not in line.split("\t")[0]}


def trigger_auths(objects):
    """{(namespace, name): parameters its secretTargetRef gives} of the TriggerAuthentications in objects."""
    return {(o["metadata"].get("namespace"), o["metadata"].get("name")):
            {r.get("parameter") for r in (o.get("spec") or {}).get("secretTargetRef") or []}
            for o in objects if o.get("kind") == "TriggerAuthentication"}


def check_scalers(ctx, source, objects, metric_names, grpc_addresses, auths=None):
    """HPAs and ScaledObjects that go through the adapter name metrics and keys it knows; with `auths`
    (trigger_auths), their triggers authenticate with a client certificate."""
    for o in objects:
        kind = o.get("kind")
        spec = o.get("spec") or {}
        if kind == "HorizontalPodAutoscaler":
            for m in spec.get("metrics") or []:
                t = m.get("type")
                if t in ("Pods", "Object", "External"):
                    name = ((m.get(t.lower()) or {}).get("metric") or {}).get("name")
                    if metric_names is not None and name not in metric_names:
                        ctx.problem(source, f"{obj_id(o)}: {t} metric {name!r} is not a metric of the adapter's "
                                    f"config (deploy/base/adapter.yaml: {sorted(metric_names)})")
        elif kind == "ScaledObject":
            for i, trig in enumerate(spec.get("triggers") or []):
                if trig.get("type") not in ("external", "external-push"):
                    continue
                md = trig.get("metadata") or {}
                for key in sorted(md):
                    if key not in ctx.keda_keys() and key not in KEDA_OWN_KEYS:
                        ctx.problem(source, f"{obj_id(o)}: triggers[{i}].metadata.{key}: not a key the adapter's "
                                    f"KEDA scaler reads ({sorted(ctx.keda_keys())})")
                if "metric" not in md:
                    ctx.problem(source, f"{obj_id(o)}: triggers[{i}].metadata.metric is required")
                elif metric_names is not None and md["metric"] not in metric_names and \
                        f"{md.get('resource')}/{md['metric']}" not in metric_names:  # e.g. external/<name>
                    ctx.problem(source, f"{obj_id(o)}: triggers[{i}].metadata.metric {md['metric']!r} is not a "
                                f"metric of the adapter's config ({sorted(metric_names)})")
                auth = (trig.get("authenticationRef") or {}).get("name")
                params = auths.get((o["metadata"].get("namespace"), auth)) if auths is not None else None
                if auths is not None and not {"caCert", "tlsClientCert", "tlsClientKey"} <= (params or set()):
                    ctx.problem(source, f"{obj_id(o)}: triggers[{i}].authenticationRef {auth!r}: not a "
                                "TriggerAuthentication of its namespace giving caCert, tlsClientCert and tlsClientKey "
                                "(the adapter's gRPC port serves mutual TLS)")
                if grpc_addresses is not None and md.get("scalerAddress") not in grpc_addresses:
                    ctx.problem(source, f"{obj_id(o)}: triggers[{i}].metadata.scalerAddress "
                                f"{md.get('scalerAddress')!r} is not the adapter's gRPC Service "
                                f"({sorted(grpc_addresses)})")


# -- deploy/ ------------------------------------------------------------------------------------------
def find(objects, kind, name=None, namespace=None):
    return [o for o in objects if o.get("kind") == kind
            and (name is None or o["metadata"].get("name") == name)
            and (namespace is None or o["metadata"].get("namespace") == namespace)]


def container_args(container, namespace, problem):
    """The container's args as the kubelet passes them: `$(VAR)` of the container's env expanded (values and the
    downward API's metadata.namespace/name; `$$` is a literal `$`). An undefined variable is a problem."""
    env = {}
    for e in container.get("env") or []:
        ref = (((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath"))
        if "value" in e:
            env[e["name"]] = str(e["value"])
        elif ref in ("metadata.namespace", "metadata.name"):
            env[e["name"]] = namespace if ref == "metadata.namespace" else "autoscale-adapter-pod"

    def sub(m):
        if m.group(0) == "$$":
            return "$"
        if m.group(1) not in env:
            problem(f"container: args reference $({m.group(1)}), which its env does not define")
        return env.get(m.group(1), m.group(0))
    return [re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, a) for a in container.get("args", [])]


def flag_name(arg):
    """"--grpc-listen" for "--grpc_listen=:9500" or "--grpc-listen=:9500" (the adapter accepts both spellings)."""
    return arg.split("=", 1)[0].replace("_", "-") if arg.startswith("--") else arg


def flag_value(args, flag):
    """The value of the last --flag=VALUE in args (as the adapter reads them), in either spelling; or None."""
    values = [a.split("=", 1)[1] for a in args if "=" in a and flag_name(a) == flag_name(flag)]
    return values[-1] if values else None


def selector_matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_deploy_render(ctx, source, objects, apiservices=CUSTOM_METRICS_APIS, namespace_object=True):
    """Cross references and the hardening of the rendered deploy/ (or Helm chart): `apiservices` are the
    APIService names that must be there, `namespace_object` whether the render creates its Namespace.
    Returns (metric names, gRPC addresses)."""
    p = lambda msg: ctx.problem(source, msg)  # noqa: E731
    deployments = find(objects, "Deployment")
    if len(deployments) != 1:
        p(f"expected one Deployment, found {len(deployments)}")
        return None, None
    dep = deployments[0]
    ns = dep["metadata"]["namespace"]
    if namespace_object and not find(objects, "Namespace", ns):
        p(f"no Namespace {ns}")
    spec = dep["spec"]
    pod = spec["template"]
    pod_labels = pod["metadata"].get("labels") or {}
    pod_spec = pod["spec"]
    if not selector_matches(spec["selector"].get("matchLabels"), pod_labels):
        p("the Deployment's selector does not match its pod labels")
    if (spec.get("replicas") or 1) < 2:
        p(f"Deployment: replicas {spec.get('replicas')}: at least 2 for availability")
    anti = ((pod_spec.get("affinity") or {}).get("podAntiAffinity") or {})
    terms = [t.get("podAffinityTerm", t) for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
    terms += anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
    if not any(selector_matches((t.get("labelSelector") or {}).get("matchLabels"), pod_labels) for t in terms):
        p("Deployment: no pod anti-affinity term selecting its own pods")
    pdbs = [o for o in find(objects, "PodDisruptionBudget", namespace=ns)
            if selector_matches(o["spec"]["selector"].get("matchLabels"), pod_labels)]
    if not pdbs:
        p("no PodDisruptionBudget selecting the adapter's pods")
    psc = pod_spec.get("securityContext") or {}
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        p("pod securityContext.seccompProfile.type must be RuntimeDefault")
    sa = pod_spec.get("serviceAccountName")
    if not find(objects, "ServiceAccount", sa, ns):
        p(f"serviceAccountName {sa!r}: no such ServiceAccount in {ns}")
    containers = pod_spec["containers"]
    adapter = containers[0]
    csc = adapter.get("securityContext") or {}
    if not (csc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
        p("container: runAsNonRoot must be true")
    if not csc.get("readOnlyRootFilesystem"):
        p("container: readOnlyRootFilesystem must be true")
    if csc.get("allowPrivilegeEscalation") is not False:
        p("container: allowPrivilegeEscalation must be false")
    if (csc.get("capabilities") or {}).get("drop") != ["ALL"]:
        p("container: capabilities.drop must be [ALL]")
    if not (adapter.get("resources") or {}).get("requests"):
        p("container: resources.requests must be set")
    ports = {pt["name"]: pt["containerPort"] for pt in adapter.get("ports", []) if "name" in pt}
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        get = (adapter.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != path or get.get("scheme") != "HTTPS":
            p(f"container: {probe} must be an HTTPS GET of {path}")
        if get.get("port") not in ports and get.get("port") not in ports.values():
            p(f"container: {probe} port {get.get('port')!r} is not a container port")
    mounts = {m["name"]: m["mountPath"] for m in adapter.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    for name in mounts:
        if name not in volumes:
            p(f"volumeMount {name!r}: no such volume")
    if "emptyDir" not in volumes.get(next((n for n, m in mounts.items() if m == "/tmp"), ""), {}):
        p("container: /tmp must be a writable emptyDir (the self-signed certificate is written there)")
    # The config: the ConfigMap mounted where --config points, checked by the adapter with the same flags.
    args = container_args(adapter, ns, p)
    # The HTTPS port (Kubernetes metrics APIs and the query API) never runs open in a cluster.
    for flag in ("--authentication", "--authorization", "--https_listen"):
        if flag_value(args, flag) in ("off", ""):
            p(f"container: {flag}={flag_value(args, flag)} opens or drops the authenticated HTTPS port")
    readers = [r for r in find(objects, "ClusterRole") if r["metadata"]["name"].endswith(":query-api-reader")]
    if not any(any("custom.metrics.k8s.io" in rule.get("apiGroups", []) and "get" in rule.get("verbs", [])
                   for rule in r.get("rules", [])) for r in readers):
        p("no ClusterRole *:query-api-reader (get on custom.metrics.k8s.io) for people to read the query API")
    config_arg = flag_value(args, "--config")
    metric_names = None
    if config_arg is None:
        p("container: no --config=FILE argument")
    else:
        cm_text = None
        for vname, mpath in mounts.items():
            vol = volumes.get(vname, {})
            if "configMap" in vol and config_arg.startswith(mpath.rstrip("/") + "/"):
                cms = find(objects, "ConfigMap", vol["configMap"]["name"], ns)
                key = config_arg[len(mpath.rstrip("/")) + 1:]
                if not cms:
                    p(f"volume {vname!r}: no ConfigMap {vol['configMap']['name']} in {ns}")
                elif key not in (cms[0].get("data") or {}):
                    p(f"ConfigMap {vol['configMap']['name']}: no key {key!r} for --config={config_arg}")
                else:
                    cm_text = cms[0]["data"][key]
        if cm_text is None:
            p(f"--config={config_arg}: not a file of a mounted ConfigMap")
        else:
            metric_names = check_adapter_config(ctx, source + " ConfigMap", cm_text, args)
            if metric_names is not None and ctx.run_adapter:
                check_adapter_runs(ctx, source, args, cm_text, adapter, ns, objects)
    check_grpc_tls(p, args, cm_text if config_arg is not None else None, mounts, volumes)
    # Services: select the pods, name container ports.
    services = find(objects, "Service", namespace=ns)
    grpc_addresses = set()
    https_services = set()
    listen_port = lambda flag, default: int((flag_value(args, flag) or f":{default}").rpartition(":")[2])  # noqa: E731
    grpc_port, https_port = listen_port("--grpc-listen", 9500), listen_port("--https-listen", 6443)
    for svc in services:
        if not selector_matches(svc["spec"].get("selector"), pod_labels):
            p(f"{obj_id(svc)}: its selector does not select the adapter's pods")
        for port in svc["spec"]["ports"]:
            tp = port.get("targetPort", port["port"])
            target = ports.get(tp) if isinstance(tp, str) else tp
            if target is None:
                p(f"{obj_id(svc)}: targetPort {tp!r} is not a container port")
                continue
            if port.get("name") == "grpc" and target != grpc_port:
                p(f"{obj_id(svc)}: port grpc targets {target} but the adapter is told --grpc-listen=:{grpc_port}")
            if target == grpc_port:
                name = svc["metadata"]["name"]
                grpc_addresses |= {f"{name}.{ns}.svc:{port['port']}", f"{name}.{ns}.svc.cluster.local:{port['port']}"}
            if target == https_port and port["port"] == 443:
                https_services.add(svc["metadata"]["name"])
    if not grpc_addresses:
        p(f"no Service for the gRPC port {grpc_port}")
    if not https_services:
        p(f"no Service with port 443 -> the HTTPS port {https_port}")
    # APIServices.
    apis = {o["metadata"]["name"]: o for o in find(objects, "APIService")}
    for name in sorted(apiservices):
        if name not in apis:
            p(f"no APIService {name}")
    for name, api in apis.items():
        s = api["spec"]
        if name != f"{s.get('version')}.{s.get('group')}":
            p(f"APIService {name}: the name must be <version>.<group>")
        svc = s.get("service") or {}
        if svc.get("namespace") != ns or svc.get("name") not in https_services or svc.get("port", 443) != 443:
            p(f"APIService {name}: service {svc} is not the adapter's HTTPS Service (port 443)")
        if s.get("insecureSkipTLSVerify") and s.get("caBundle"):
            p(f"APIService {name}: caBundle and insecureSkipTLSVerify are mutually exclusive")
    check_tls(ctx, source, objects, ns, apis, https_services, args, mounts, volumes)
    check_monitors(ctx, source, objects, ns, pod_labels, ports, args)
    # Every namespaced object in the adapter's namespace, but the RoleBinding that must be in kube-system.
    for o in objects:
        if o.get("kind") in CLUSTER_SCOPED_KINDS:
            continue
        auth_reader = o["kind"] == "RoleBinding" and o["roleRef"]["name"] == "extension-apiserver-authentication-reader"
        want = "kube-system" if auth_reader else ns
        if o["kind"] in ("ServiceMonitor", "PodMonitor") and monitor_selects_namespace(o, ns):
            continue
        if o["metadata"].get("namespace") != want:
            p(f"{obj_id(o)}: must be in namespace {want}")
    for o in find(objects, "Namespace"):
        if o["metadata"]["name"] != ns:
            p(f"Namespace {o['metadata']['name']}: the adapter runs in {ns}")
    # RBAC: what the issue lists, bound to the adapter's ServiceAccount.
    def bound(kind, role, binding_kind, binding_ns=None):
        for b in find(objects, binding_kind, namespace=binding_ns):
            if b["roleRef"]["kind"] == kind and b["roleRef"]["name"] == role and any(
                    s.get("kind") == "ServiceAccount" and s.get("name") == sa and s.get("namespace") == ns
                    for s in b.get("subjects", [])):
                return True
        return False
    if not bound("ClusterRole", "system:auth-delegator", "ClusterRoleBinding"):
        p("no ClusterRoleBinding of system:auth-delegator to the adapter's ServiceAccount")
    if not bound("Role", "extension-apiserver-authentication-reader", "RoleBinding", "kube-system"):
        p("no RoleBinding in kube-system of extension-apiserver-authentication-reader to the ServiceAccount")
    pod_readers = [r["metadata"]["name"] for r in find(objects, "ClusterRole") if any(
        "" in rule.get("apiGroups", []) and "pods" in rule.get("resources", [])
        and {"get", "list", "watch"} <= set(rule.get("verbs", [])) for rule in r.get("rules", []))]
    if not any(bound("ClusterRole", r, "ClusterRoleBinding") for r in pod_readers):
        p("the ServiceAccount may not get/list/watch pods")
    for b in find(objects, "ClusterRoleBinding") + find(objects, "RoleBinding"):
        ref = b["roleRef"]
        if ref["name"].startswith("autoscale-adapter") and not find(objects, ref["kind"], ref["name"]):
            p(f"{obj_id(b)}: roleRef {ref['kind']} {ref['name']} is not in the render")
    return metric_names, grpc_addresses


GRPC_TLS_FLAGS = {"--grpc-tls-cert-file": "certFile", "--grpc-tls-key-file": "keyFile",
                  "--grpc-client-ca-file": "clientCAFile"}


def check_grpc_tls(p, args, config_text, mounts, volumes):
    """KEDA's gRPC port serves mutual TLS: its certificate, key and client CA (flags, else the config's keda.tls)
    are files of a mounted Secret, and no --grpc-insecure."""
    if flag_value(args, "--grpc-listen") in ("", "off"):
        return
    if any(flag_name(a) == "--grpc-insecure" and not a.endswith("=false") for a in args):
        p("container: --grpc-insecure: the gRPC port must serve mutual TLS")
    try:
        tls = ((yaml.safe_load(config_text or "") or {}).get("keda") or {}).get("tls") or {}
    except yaml.YAMLError:
        tls = {}
    for flag, key in GRPC_TLS_FLAGS.items():
        path = flag_value(args, flag) or tls.get(key)
        if not path:
            p(f"container: the gRPC port needs {flag} (or keda.tls.{key}): mutual TLS is the default")
            continue
        d = path.rpartition("/")[0]
        volume = next((volumes.get(n) for n, m in mounts.items() if m.rstrip("/") == d), None)
        if not volume or "secret" not in volume:
            p(f"container: {flag}={path} is not a file of a mounted Secret")


def check_tls(ctx, source, objects, ns, apis, https_services, args, mounts, volumes):
    """How the API aggregator verifies the adapter: either every APIService skips verification
    (insecureSkipTLSVerify) of the certificate each pod generates, whose --tls_san names the HTTPS Services; or
    every APIService has cert-manager.io/inject-ca-from naming a Certificate of the render that covers the
    Services' names, was issued by an Issuer of the render, and whose Secret the Deployment mounts and serves
    (--tls_cert_file/--tls_key_file)."""
    p = lambda msg: ctx.problem(source, msg)  # noqa: E731
    names = {f"{svc}.{ns}.svc" for svc in https_services}
    injected = {n: (a["metadata"].get("annotations") or {}).get(INJECT_CA) for n, a in apis.items()}
    cert_file, key_file = flag_value(args, "--tls_cert_file"), flag_value(args, "--tls_key_file")
    if not any(injected.values()):
        for n, a in apis.items():
            if not a["spec"].get("insecureSkipTLSVerify") and not a["spec"].get("caBundle"):
                p(f"APIService {n}: neither insecureSkipTLSVerify nor caBundle nor {INJECT_CA}")
        if cert_file is None:
            sans = set((flag_value(args, "--tls_san") or "").split(","))
            for name in sorted(names - sans):
                p(f"container: --tls_san does not name the HTTPS Service {name} (the generated certificate's names)")
        return
    for n, value in sorted(injected.items()):
        if not value:
            p(f"APIService {n}: no {INJECT_CA} while the other APIServices use cert-manager (list the "
              "cert-manager component after the components that add APIServices)")
            continue
        if apis[n]["spec"].get("insecureSkipTLSVerify"):
            p(f"APIService {n}: insecureSkipTLSVerify together with {INJECT_CA} (the caBundle is refused)")
        cert_ns, _, cert_name = value.partition("/")
        certs = find(objects, "Certificate", cert_name, cert_ns)
        if cert_ns != ns or not certs:
            p(f"APIService {n}: {INJECT_CA} {value!r} is not a Certificate of the render in {ns}")
            continue
        cert = certs[0]["spec"]
        for name in sorted(names - set(cert.get("dnsNames") or [])):
            p(f"Certificate {cert_name}: no dnsName {name} (the HTTPS Service the aggregator dials)")
        check_issuer(ctx, source, objects, ns, cert_name, cert)
        secret = cert.get("secretName")
        mount = next((mounts[v] for v in mounts if (volumes.get(v, {}).get("secret") or {}).get("secretName")
                      == secret), None)
        if mount is None:
            p(f"Certificate {cert_name}: the Deployment mounts no volume of its Secret {secret}")
        elif (cert_file, key_file) != (mount.rstrip("/") + "/tls.crt", mount.rstrip("/") + "/tls.key"):
            p(f"container: --tls_cert_file/--tls_key_file ({cert_file}, {key_file}) are not tls.crt/tls.key of "
              f"the Secret {secret} mounted at {mount}")


def check_monitors(ctx, source, objects, ns, pod_labels, ports, args):
    """Prometheus Operator ServiceMonitors and PodMonitors scrape /metrics on the adapter's plain-HTTP port: a
    ServiceMonitor selects a Service of the render whose named port targets it, a PodMonitor the pods and the
    container port's name; both in the adapter's namespace (their default namespaceSelector)."""
    p = lambda msg: ctx.problem(source, msg)  # noqa: E731
    http_port = int((flag_value(args, "--http_listen") or ":8080").rsplit(":", 1)[1])
    http_names = {n for n, port in ports.items() if port == http_port}
    for kind, endpoints_key in (("ServiceMonitor", "endpoints"), ("PodMonitor", "podMetricsEndpoints")):
        for m in find(objects, kind):
            spec = m.get("spec") or {}
            if not monitor_selects_namespace(m, ns):
                p(f"{obj_id(m)}: must be in {ns} without a namespaceSelector (it selects its own namespace), or "
                  f"name {ns} in namespaceSelector.matchNames")
            selector = (spec.get("selector") or {}).get("matchLabels")
            if kind == "ServiceMonitor":
                services = [svc for svc in find(objects, "Service", namespace=ns)
                            if selector_matches(selector, (svc["metadata"].get("labels") or {}))]
                named = {pt.get("name") for svc in services for pt in svc["spec"]["ports"]
                         if pt.get("targetPort") in http_names or pt.get("targetPort") == http_port}
            else:
                named = http_names if selector_matches(selector, pod_labels) else set()
            endpoints = spec.get(endpoints_key) or []
            if not endpoints:
                p(f"{obj_id(m)}: no {endpoints_key}")
            for e in endpoints:
                if e.get("port") not in named or e.get("path", "/metrics") != "/metrics":
                    p(f"{obj_id(m)}: endpoint {e} is not /metrics on the adapter's plain-HTTP port "
                      f"(selected port names: {sorted(n for n in named if n)})")


def monitor_selects_namespace(m, ns):
    """Whether a ServiceMonitor/PodMonitor looks for targets in namespace `ns`."""
    selector = (m.get("spec") or {}).get("namespaceSelector")
    if not selector:
        return m["metadata"].get("namespace") == ns
    return set(selector) == {"matchNames"} and ns in selector["matchNames"]


def check_issuer(ctx, source, objects, ns, cert_name, cert):
    """The Certificate's issuerRef is an Issuer of the render (or a ClusterIssuer, outside it); a CA Issuer's
    secret is that of a CA Certificate of the render, itself issued by an Issuer of the render."""
    p = lambda msg: ctx.problem(source, msg)  # noqa: E731
    seen = set()
    while cert is not None and cert_name not in seen:
        seen.add(cert_name)
        ref = cert.get("issuerRef") or {}
        if ref.get("kind", "Issuer") == "ClusterIssuer" or ref.get("group", "cert-manager.io") != "cert-manager.io":
            return
        issuers = find(objects, "Issuer", ref.get("name"), ns)
        if not issuers:
            p(f"Certificate {cert_name}: issuerRef {ref} is not an Issuer of the render in {ns}")
            return
        ca_secret = (issuers[0]["spec"].get("ca") or {}).get("secretName")
        if ca_secret is None:
            return
        ca = [c for c in find(objects, "Certificate", namespace=ns) if c["spec"].get("secretName") == ca_secret]
        if not ca or not ca[0]["spec"].get("isCA"):
            p(f"Issuer {ref.get('name')}: its CA secret {ca_secret} is not that of a Certificate with isCA: true")
            return
        cert_name, cert = ca[0]["metadata"]["name"], ca[0]["spec"]


def check_adapter_runs(ctx, source, args, config_text, container, ns, objects):
    """Starts the adapter with the Deployment's args on loopback and probes it as the kubelet would."""
    p = lambda msg: ctx.problem(source, "adapter started with the Deployment's args: " + msg)  # noqa: E731
    # A mounted certificate (cert-manager) is not here: the adapter generates one, whose names are not checked
    # (check_tls checks the Certificate's).
    mounted_cert = flag_value(args, "--tls_cert_file") is not None
    moved = {"--https-listen", "--http-listen", "--grpc-listen", "--config", "--prometheus-url",
             "--authentication", "--authorization", "--tls-cert-file", "--tls-key-file", *GRPC_TLS_FLAGS}
    argv = [a for a in args if flag_name(a) not in moved]
    with tempfile.TemporaryDirectory() as tmp:
        # The gRPC port's Secret, as scripts/grpc-certs.sh makes it.
        certs = os.path.join(tmp, "grpc")
        r = run([os.path.join(ctx.root, "scripts", "grpc-certs.sh"), "--out", certs])
        if r.returncode != 0:
            p(f"scripts/grpc-certs.sh failed: {r.stderr.strip()}")
            return
        argv += [f"--grpc_tls_cert_file={certs}/server.crt", f"--grpc_tls_key_file={certs}/server.key",
                 f"--grpc_client_ca_file={certs}/ca.crt"]
        config = os.path.join(tmp, "config.yaml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(config_text)
        argv = [ctx.adapter, *argv, f"--config={config}", "--https_listen=127.0.0.1:0", "--http_listen=127.0.0.1:0",
                "--grpc_listen=127.0.0.1:0", "--prometheus_url=http://127.0.0.1:1",
                "--authentication=off", "--authorization=off"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, TMPDIR=tmp))
        log = []
        try:
            port = None
            deadline = time.monotonic() + 20
            while port is None and time.monotonic() < deadline and proc.poll() is None:
                ready, _, _ = select.select([proc.stdout], [], [], 0.5)
                if not ready:
                    continue
                line = proc.stdout.readline()
                log.append(line)
                if '"msg":"listening"' in line and '"server":"https"' in line:
                    port = json.loads(line)["port"]
            if port is None:
                p("no HTTPS 'listening' record within 20 s:\n" + "".join(log[-20:]))
                return
            tls = ssl.create_default_context()
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE  # as the kubelet's HTTPS probes
            for probe, want in (("livenessProbe", (200,)), ("readinessProbe", (200, 503))):
                path = container[probe]["httpGet"]["path"]
                try:
                    with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=tls, timeout=5) as r:
                        code = r.status
                except urllib.error.HTTPError as e:
                    code = e.code
                except OSError as e:
                    code = f"error {e}"
                if code not in want:
                    p(f"{probe} GET {path} over HTTPS answered {code}, expected {' or '.join(map(str, want))}")
            pem = ssl.get_server_certificate(("127.0.0.1", port))
            r = run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem)
            https_port = container["livenessProbe"]["httpGet"]["port"]
            https_names = {https_port} | {pt.get("name") for pt in container.get("ports", [])
                                          if pt.get("containerPort") == https_port}
            for svc in find(objects, "Service", namespace=ns) if not mounted_cert else []:
                if not any(pt.get("targetPort") in https_names for pt in svc["spec"]["ports"]):
                    continue  # not the HTTPS port
                dns = f"{svc['metadata']['name']}.{ns}.svc"
                if dns not in r.stdout:
                    p(f"the serving certificate has no SAN {dns} (Service {svc['metadata']['name']}): {r.stdout.strip()}")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
                p("did not stop within 20 s of SIGTERM")
            if rc != 0 and port is not None:
                p(f"exit code {rc} after SIGTERM:\n" + "".join(log[-10:]) + proc.stdout.read()[-2000:])


# -- Prometheus ---------------------------------------------------------------------------------------
def check_scrape_config(ctx, path):
    source = os.path.relpath(path, ctx.root)
    with open(path, encoding="utf-8") as f:
        config = yaml.load(f, Loader=_Loader)
    with tempfile.TemporaryDirectory() as tmp:
        stub = os.path.join(tmp, "stub")
        with open(stub, "w") as f:
            f.write("stub\n")
        jobs = config.get("scrape_configs") or []
        if not jobs:
            ctx.problem(source, "no scrape_configs")
        for job in jobs:
            for sd in job.pop("kubernetes_sd_configs", None) or []:
                if set(sd) - {"role", "namespaces", "selectors", "attach_metadata"} or sd.get("role") not in KSD_ROLES:
                    ctx.problem(source, f"job {job.get('job_name')}: kubernetes_sd_configs entry {sd}: role must be "
                                f"one of {sorted(KSD_ROLES)} (and only role/namespaces/selectors/attach_metadata)")
                job.setdefault("static_configs", [{"targets": ["127.0.0.1:9"]}])
            # In-cluster file paths do not exist here: point them at a stub file.
            for section in ("authorization", "tls_config"):
                for key in ("credentials_file", "ca_file", "cert_file", "key_file"):
                    if key in (job.get(section) or {}):
                        job[section][key] = stub
        out = os.path.join(tmp, "prometheus.yml")
        with open(out, "w") as f:
            yaml.safe_dump(config, f)
        r = run([ctx.promtool, "check", "config", out])
        if r.returncode != 0:
            ctx.problem(source, "promtool check config: " + (r.stderr + r.stdout).strip().replace(out, source))


# -- modes --------------------------------------------------------------------------------------------
def render(ctx, path):
    r = run([ctx.kubectl, "kustomize", path])
    if r.returncode != 0:
        ctx.problem(os.path.relpath(path, ctx.root), f"kubectl kustomize: {r.stderr.strip()}")
        return []
    return load_docs(r.stdout, path, ctx)


def mode_check(ctx):
    sources = []  # names, for the summary
    deploy = os.path.join(ctx.root, "deploy")
    # The overlays and components of deploy/ are checked by the `overlays` mode.
    name = "deploy/ (kubectl kustomize deploy/)"
    metric_names = grpc_addresses = None
    entries = []
    objects = render(ctx, deploy)
    sources.append(name)
    if not objects:
        ctx.problem(name, "renders nothing")
    else:
        entries += [(name, o) for o in objects]
        metric_names, grpc_addresses = check_deploy_render(ctx, name, objects)
        check_variant(ctx, name, objects, "autoscale-adapter", set(), False)
    example_files = sorted(glob.glob(os.path.join(ctx.root, "examples", "*.yaml")))
    example_objects = []
    auths = {}
    for path in example_files:
        if not os.path.basename(path).startswith("config-"):
            with open(path, encoding="utf-8") as f:
                auths.update(trigger_auths([d for d in yaml.safe_load_all(f.read()) if isinstance(d, dict)]))
    for path in example_files:
        name = os.path.relpath(path, ctx.root)
        sources.append(name)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        docs = load_docs(text, name, ctx)
        if os.path.basename(path).startswith("config-"):
            # The adapter's own config files, not Kubernetes objects.
            check_adapter_config(ctx, name, text)
            continue
        if not docs:
            ctx.problem(name, "no objects")
        entries += [(name, o) for o in docs]
        example_objects += [(name, o) for o in docs]
        check_scalers(ctx, name, docs, metric_names, grpc_addresses, auths)
    check_scale_targets(ctx, example_objects)
    check_tutorial_examples(ctx)
    scrape = os.path.join(deploy, "prometheus", "scrape-config.yaml")
    sources.append(os.path.relpath(scrape, ctx.root))
    check_scrape_config(ctx, scrape)
    validate_schemas(ctx, entries)
    for name in sources:
        objs = sum(1 for s, _ in entries if s == name)
        print(f"  {name}: {objs} objects")
    return sources


# deploy/overlays/<name>: (namespace, APIServices besides custom.metrics', cert-manager TLS). Every overlay must
# be listed here.
OVERLAYS = {
    "resource-metrics": ("autoscale-adapter", {RESOURCE_METRICS_API}, False),
    "external-metrics": ("autoscale-adapter", {EXTERNAL_METRICS_API}, False),
    "cert-manager": ("autoscale-adapter", {EXTERNAL_METRICS_API}, True),
    "namespace-example": ("monitoring", set(), True),
}
# deploy/components/<name>: the APIServices it adds. cert-manager is listed last in a combination (it patches the
# APIServices present when it runs).
COMPONENTS = {"external-metrics": {EXTERNAL_METRICS_API}, "resource-metrics": {RESOURCE_METRICS_API},
              "service-monitor": set(), "pod-monitor": set(), "cert-manager": set()}
# Independent of the others (they add an object and change none): rendered alone and with all the others, not
# in every combination. Alternatives to each other (both would scrape the adapter twice).
MONITORS = ("service-monitor", "pod-monitor")


def check_variant(ctx, source, objects, ns, extra_apis, cert_manager):
    """What a render of deploy/ with these options must hold beyond check_deploy_render's invariants."""
    p = lambda msg: ctx.problem(source, msg)  # noqa: E731
    deps = find(objects, "Deployment")
    if deps and deps[0]["metadata"].get("namespace") != ns:
        p(f"the Deployment is in {deps[0]['metadata'].get('namespace')}, expected {ns}")
    apis = {o["metadata"]["name"]: o for o in find(objects, "APIService")}
    want = CUSTOM_METRICS_APIS | extra_apis
    if set(apis) != want:
        p(f"APIServices {sorted(apis)}, expected {sorted(want)} (external.metrics.k8s.io and metrics.k8s.io are "
          "opt-in components)")
    for name, api in sorted(apis.items()):
        has = INJECT_CA in (api["metadata"].get("annotations") or {})
        if has != cert_manager or bool(api["spec"].get("insecureSkipTLSVerify")) == cert_manager:
            p(f"APIService {name}: expected " + (f"{INJECT_CA} and no insecureSkipTLSVerify" if cert_manager
                                                 else f"insecureSkipTLSVerify and no {INJECT_CA}"))
    if bool(find(objects, "Certificate")) != cert_manager:
        p("expected cert-manager Certificates" if cert_manager else "unexpected cert-manager Certificates")
    rb = find(objects, "RoleBinding", AUTH_READER_BINDING, "kube-system")
    if not rb or rb[0].get("subjects") != [{"kind": "ServiceAccount", "name": "autoscale-adapter", "namespace": ns}]:
        p(f"RoleBinding kube-system/{AUTH_READER_BINDING}: subjects must be the ServiceAccount "
          f"{ns}/autoscale-adapter, got {rb[0].get('subjects') if rb else 'no such RoleBinding'}")
    hpa = find(objects, "ClusterRoleBinding", "autoscale-adapter:hpa-controller")
    if not hpa or hpa[0].get("subjects") != [
            {"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler", "namespace": "kube-system"}]:
        p("ClusterRoleBinding autoscale-adapter:hpa-controller: must bind kube-system/horizontal-pod-autoscaler")


def mode_overlays(ctx):
    """Every overlay of deploy/overlays, and every combination of the components of deploy/components in the
    default namespace and in another one (an overlay with `namespace:` and transformers/namespace)."""
    deploy = os.path.join(ctx.root, "deploy")
    sources, entries = [], []

    def one(name, path, ns, extra_apis, cert_manager, run_adapter):
        sources.append(name)
        objects = render(ctx, path)
        if not objects:
            ctx.problem(name, "renders nothing")
            return
        entries.extend((name, o) for o in objects)
        ctx.run_adapter = run_adapter
        check_deploy_render(ctx, name, objects)
        check_variant(ctx, name, objects, ns, extra_apis, cert_manager)

    for d in sorted(glob.glob(os.path.join(deploy, "overlays", "*", "kustomization.yaml"))):
        overlay = os.path.basename(os.path.dirname(d))
        if overlay not in OVERLAYS:
            ctx.problem(f"deploy/overlays/{overlay}", "not checked: add it to OVERLAYS in validate_manifests.py")
            continue
        one(f"deploy/overlays/{overlay}", os.path.dirname(d), *OVERLAYS[overlay], False)
    for d in sorted(glob.glob(os.path.join(deploy, "components", "*", "kustomization.yaml"))):
        if os.path.basename(os.path.dirname(d)) not in COMPONENTS:
            ctx.problem(f"deploy/components/{os.path.basename(os.path.dirname(d))}",
                        "not checked: add it to COMPONENTS in validate_manifests.py")
    # cert-manager last: it patches the APIServices present when it runs.
    names = sorted((c for c in COMPONENTS if c not in MONITORS), key=lambda c: c == "cert-manager")
    combos = [c for n in range(len(names) + 1) for c in itertools.combinations(names, n)]
    combos += [c for m in MONITORS for c in ((m,), (*names[:-1], m, names[-1]))]
    with tempfile.TemporaryDirectory() as tmp:
        for ns in ("autoscale-adapter", "monitoring"):
            for combo in combos:
                overlay = os.path.join(tmp, f"{ns}-{'-'.join(combo) or 'base'}")
                os.mkdir(overlay)
                rel = os.path.relpath(deploy, overlay)
                k = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "resources": [f"{rel}/base"], "components": [f"{rel}/components/{c}" for c in combo]}
                if ns != "autoscale-adapter":
                    k.update(namespace=ns, transformers=[f"{rel}/transformers/namespace"])
                with open(os.path.join(overlay, "kustomization.yaml"), "w", encoding="utf-8") as f:
                    yaml.safe_dump(k, f)
                extra = set().union(*(COMPONENTS[c] for c in combo))
                one(f"namespace {ns}, components [{', '.join(combo)}]", overlay, ns, extra,
                    "cert-manager" in combo, not combo)
    validate_schemas(ctx, entries)
    for name in sources:
        print(f"  {name}: {sum(1 for s, _ in entries if s == name)} objects")
    return sources


def check_scale_targets(ctx, objects):
    """Every HPA and ScaledObject of the examples scales the predictor Deployment of an InferenceService of
    the examples that KServe leaves to an external autoscaler (else KServe's own HPA would fight it)."""
    isvcs = {(o["metadata"].get("namespace"), o["metadata"].get("name")): o
             for _, o in objects if o.get("kind") == "InferenceService"}
    for source, o in objects:
        if o.get("kind") not in ("HorizontalPodAutoscaler", "ScaledObject"):
            continue
        ref = (o.get("spec") or {}).get("scaleTargetRef") or {}
        ns = o["metadata"].get("namespace")
        name = str(ref.get("name", ""))
        isvc = isvcs.get((ns, name[:-len("-predictor")])) if name.endswith("-predictor") else None
        if ref.get("kind", "Deployment") != "Deployment" or ref.get("apiVersion", "apps/v1") != "apps/v1" or not isvc:
            ctx.problem(source, f"{obj_id(o)}: scaleTargetRef {ref} is not the predictor Deployment "
                        "(<name>-predictor) of an InferenceService of examples/ in its namespace")
            continue
        cls = (isvc["metadata"].get("annotations") or {}).get("serving.kserve.io/autoscalerClass")
        if cls not in ("external", "none"):
            ctx.problem(source, f"{obj_id(o)}: InferenceService {isvc['metadata']['name']} must have the annotation "
                        f"serving.kserve.io/autoscalerClass: external (got {cls!r}), or KServe scales it too")
        for i, trig in enumerate((o.get("spec") or {}).get("triggers") or []):
            wanted = (trig.get("metadata") or {}).get("inferenceService")
            if wanted is not None and wanted != isvc["metadata"]["name"]:
                ctx.problem(source, f"{obj_id(o)}: triggers[{i}].metadata.inferenceService {wanted!r} is not the "
                            f"InferenceService it scales ({isvc['metadata']['name']})")


def check_tutorial_examples(ctx):
    """The two InferenceServices of the tutorial, as the issue states them."""
    def load(name):
        path = os.path.join(ctx.root, "examples", name)
        if not os.path.exists(path):
            ctx.problem(f"examples/{name}", "missing")
            return []
        with open(path, encoding="utf-8") as f:
            return load_docs(f.read(), f"examples/{name}", ctx)
    for file, isvc, check in (
            ("autoscale-concurrency.yaml", "concurrency-model",
             lambda pred, hpa: (pred.get("containerConcurrency") == 100 and any(
                 m.get("type") == "Pods" and str(m["pods"]["target"].get("averageValue")) == "70"
                 for m in hpa["spec"]["metrics"]))),
            ("autoscale-cpu.yaml", "cpu-model",
             lambda pred, hpa: ((pred.get("model") or {}).get("resources", {}).get("requests", {}).get("cpu")
                                and any(m.get("type") == "Resource" and m["resource"]["name"] == "cpu"
                                        and m["resource"]["target"].get("averageUtilization") == 50
                                        for m in hpa["spec"]["metrics"])))):
        docs = load(file)
        isvcs = [d for d in docs if d.get("kind") == "InferenceService" and d["metadata"].get("name") == isvc
                 and d["metadata"].get("namespace") == "kserve-test"]
        hpas = [d for d in docs if d.get("kind") == "HorizontalPodAutoscaler"
                and (d.get("spec") or {}).get("scaleTargetRef", {}).get("name") == f"{isvc}-predictor"]
        if not isvcs or not hpas:
            ctx.problem(f"examples/{file}", f"expected InferenceService kserve-test/{isvc} and an HPA of "
                        f"Deployment {isvc}-predictor")
            continue
        pred = isvcs[0]["spec"]["predictor"]
        hpa = hpas[0]
        if (pred.get("minReplicas"), pred.get("maxReplicas")) != (1, 10) or \
                (hpa["spec"].get("minReplicas"), hpa["spec"]["maxReplicas"]) != (1, 10):
            ctx.problem(f"examples/{file}", "the tutorial's replicas are min 1, max 10")
        try:
            ok = check(pred, hpa)
        except (KeyError, TypeError, AttributeError):
            ok = False
        if not ok:
            ctx.problem(f"examples/{file}", "does not state the tutorial's target "
                        "(containerConcurrency 100 at 70 per pod; CPU 50 % with a CPU request)")


def mode_expect_failures(ctx, directory):
    files = sorted(glob.glob(os.path.join(directory, "*.yaml")) +
                   glob.glob(os.path.join(directory, "*", "kustomization.yaml")))
    if not files:
        raise SystemExit(f"no cases in {directory}")
    ctx.run_adapter = False  # the real deploy/ is run by `check`
    # The adapter's metric names and gRPC address, from the real deploy/.
    objects = render(ctx, os.path.join(ctx.root, "deploy"))
    metric_names, grpc_addresses = check_deploy_render(ctx, "deploy/", objects)
    if ctx.problems:
        return files, [f"deploy/ itself has problems: {ctx.problems}"]
    failures = []
    for path in files:
        name = os.path.relpath(path, ctx.root)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        expected = re.findall(r"^# expect: (.+)$", text, re.M)
        if not expected:
            failures.append(f"{name}: no '# expect:' line")
            continue
        ctx.problems = []
        if os.path.basename(path) == "kustomization.yaml":  # an overlay of deploy/: its render
            docs = render(ctx, os.path.dirname(path))
        else:
            docs = load_docs(text, name, ctx)
        if docs and "scrape_configs" in docs[0]:  # a Prometheus config
            check_scrape_config(ctx, path)
        else:
            validate_schemas(ctx, [(name, d) for d in docs])
            check_scalers(ctx, name, docs, metric_names, grpc_addresses, trigger_auths(docs))
            if any(d.get("kind") == "Deployment" for d in docs):
                check_deploy_render(ctx, name, docs)
        reported = "\n".join(m for _, m in ctx.problems)
        missing = [e for e in expected if e not in reported]
        if missing:
            failures.append(f"{name}: expected problems {missing} not reported; reported:\n{reported or '(none)'}")
        else:
            print(f"  {name}: rejected as expected ({len(ctx.problems)} problems, e.g. {ctx.problems[0][1]})")
    ctx.problems = []
    return files, failures


def report(ctx, sources):
    """Prints every problem and "N passed, N failed" over `sources` (problems name their source as a prefix);
    returns the exit code."""
    failed = {s for s in sources if any(ps.startswith(s) for ps, _ in ctx.problems)}
    if ctx.problems and not failed:
        failed = {"(other)"}
    for source, message in ctx.problems:
        print(f"FAIL {source}: {message}")
    print(f"{len(set(sources) - failed)} passed, {len(failed)} failed")
    return 1 if ctx.problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["check", "overlays", "expect-failures"])
    ap.add_argument("directory", nargs="?")
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap.add_argument("--adapter", required=True, help="the built autoscale-adapter binary")
    ap.add_argument("--node-modules", required=True, help="node_modules installed by npm_install.sh")
    ap.add_argument("--schemas", help="CRD folder (default: <root>/../shared/schemas)")
    ap.add_argument("--kubectl", default="kubectl")
    ap.add_argument("--promtool", default="promtool")
    ap.add_argument("--node", default="node")
    args = ap.parse_args()
    ctx = Context(args)
    if args.mode == "overlays":
        # Needs no CRD schemas (the optional components' custom resources are validated against theirs when
        # the folder has them): always runs.
        sources = mode_overlays(ctx)
        for note in sorted(ctx.notes):
            print(f"note: {note}")
        failed = {ps for ps, _ in ctx.problems}
        for source, message in ctx.problems:
            print(f"FAIL {source}: {message}")
        print(f"{len(set(sources) - failed)} passed, {len(failed)} failed")
        return 1 if ctx.problems else 0
    if not ctx.have_schemas():
        # The CRDs are data beside the repository, never copied into it: a checkout without them cannot
        # run this check. CTest reports it as skipped (SKIP_RETURN_CODE 77), not as passed.
        print(f"SKIPPED: no CRD schema folder at {ctx.schemas_dir} (../shared/schemas beside the repository, "
              "or --schemas)")
        return 77
    if args.mode == "check":
        return report(ctx, mode_check(ctx))
    if not args.directory:
        ap.error("expect-failures needs a DIR")
    files, failures = mode_expect_failures(ctx, args.directory)
    for f in failures:
        print(f"FAIL {f}")
    print(f"{len(files) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

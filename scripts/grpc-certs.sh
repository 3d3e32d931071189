#!/usr/bin/env bash
# Makes the certificates of the KEDA gRPC port (mutual TLS) for clusters without cert-manager, and prints them as
# Kubernetes Secrets (YAML on stdout):
#   Secret autoscale-adapter-grpc-tls in the adapter's namespace: the port's certificate (tls.crt, tls.key) for
#     the gRPC Service's DNS names, and ca.crt, the CA that signs KEDA's client certificate (deploy/ mounts it);
#   Secret autoscale-adapter-keda-client in each --client-namespace (where ScaledObjects live): KEDA's client
#     certificate (tls.crt, tls.key, subject CN = --client-name) and ca.crt, the CA that signed the port's
#     certificate, for a TriggerAuthentication (caCert, tlsClientCert, tlsClientKey; examples/keda-*.yaml).
# One private CA signs both; its key is not kept. Renewal: run again and apply again (the adapter re-reads the
# files when the Secret changes; KEDA re-reads the TriggerAuthentication).
#
#   scripts/grpc-certs.sh --client-namespace kserve-test | kubectl apply -f -
# The adapter's Secret has the label app.kubernetes.io/component=grpc-server, KEDA's grpc-client, so the halves can
# be applied apart (kubectl apply -f FILE -l app.kubernetes.io/component=grpc-server) before the ScaledObjects'
# namespace exists. The output holds private keys: keep it out of version control.
#
# Options: --namespace NS (the adapter's, default autoscale-adapter), --service NAME (the gRPC Service, default
# autoscale-adapter), --client-namespace NS (repeatable, default kserve-test), --client-name NAME (default keda,
# what --grpc-client-names allows), --days N (validity, default 365), --out DIR (also keep the PEM files there).
set -euo pipefail

namespace=autoscale-adapter
service=autoscale-adapter
client_name=keda
days=365
out=""
client_namespaces=()
while [ $# -gt 0 ]; do
  case "$1" in
    --namespace) namespace=$2; shift 2 ;;
    --service) service=$2; shift 2 ;;
    --client-namespace) client_namespaces+=("$2"); shift 2 ;;
    --client-name) client_name=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | cut -c3-; exit 0 ;;
    *) echo "grpc-certs.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
[ ${#client_namespaces[@]} -gt 0 ] || client_namespaces=(kserve-test)

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
ssl() { openssl "$@" 2>/dev/null >/dev/null; }
key() { ssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$1.key"; }

key ca
ssl req -x509 -new -key "$dir/ca.key" -out "$dir/ca.crt" -days "$days" -subj "/CN=autoscale-adapter-grpc-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
# leaf NAME CN EXTENSIONS
leaf() {
  key "$1"
  ssl req -new -key "$dir/$1.key" -out "$dir/$1.csr" -subj "/CN=$2"
  printf '%b' "$3" >"$dir/$1.ext"
  ssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -out "$dir/$1.crt" \
    -days "$days" -sha256 -extfile "$dir/$1.ext"
}
svc="$service.$namespace.svc"
leaf server "$svc" "subjectAltName=DNS:$svc,DNS:$svc.cluster.local\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n"
leaf client "$client_name" "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n"

b64() { base64 -w0 <"$dir/$1"; }
secret() {  # NAME NAMESPACE CERT KEY COMPONENT
  cat <<EOF
---
apiVersion: v1
kind: Secret
metadata:
  name: $1
  namespace: $2
  labels:
    app.kubernetes.io/part-of: autoscale-adapter
    app.kubernetes.io/component: $5
type: kubernetes.io/tls
data:
  tls.crt: $(b64 "$3")
  tls.key: $(b64 "$4")
  ca.crt: $(b64 ca.crt)
EOF
}
secret autoscale-adapter-grpc-tls "$namespace" server.crt server.key grpc-server
for ns in "${client_namespaces[@]}"; do
  secret autoscale-adapter-keda-client "$ns" client.crt client.key grpc-client
done
if [ -n "$out" ]; then
  mkdir -p "$out"
  cp "$dir"/{ca.crt,server.crt,server.key,client.crt,client.key} "$out"/
fi

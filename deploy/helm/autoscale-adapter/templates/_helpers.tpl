{{/* Names. The full name is the release name when it contains the chart name (release autoscale-adapter gives
the names deploy/ uses), else <release>-<chart>. */}}
{{- define "aa.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aa.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The Service of the metrics APIs (port 443, for the APIServices) and the one of KEDA's gRPC and HTTP. */}}
{{- define "aa.apiServiceName" -}}
{{- printf "%s-api" (include "aa.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aa.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aa.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: the existing ServiceAccount to use when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "aa.servingCertName" -}}
{{- printf "%s-serving" (include "aa.fullname" .) -}}
{{- end -}}
{{- define "aa.servingSecretName" -}}
{{- printf "%s-serving-cert" (include "aa.fullname" .) -}}
{{- end -}}

{{- define "aa.grpcSecretName" -}}
{{- default (printf "%s-grpc-tls" (include "aa.fullname" .)) .Values.grpc.tls.secretName -}}
{{- end -}}

{{/* Labels: Helm's standard ones plus part-of (as deploy/ sets on every object). */}}
{{- define "aa.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aa.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aa.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "aa.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: autoscale-adapter
{{- end -}}

{{/* DNS names of the two Services in namespace .ns (context .ctx): the self-signed certificate's --tls-san (with
the namespace as $(POD_NAMESPACE), as deploy/ writes it), the serving Certificate's dnsNames. */}}
{{- define "aa.dnsNames" -}}
{{- $names := list -}}
{{- range $svc := list (include "aa.apiServiceName" .ctx) (include "aa.fullname" .ctx) -}}
{{- $names = append $names (printf "%s.%s.svc" $svc $.ns) -}}
{{- $names = append $names (printf "%s.%s.svc.%s" $svc $.ns $.ctx.Values.clusterDomain) -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* Where Secrets are mounted (outside /etc/autoscale-adapter, which is the read-only ConfigMap volume). */}}
{{- define "aa.secretsDir" -}}/var/run/autoscale-adapter{{- end -}}

{{/* The APIServices the values ask for: [{name group version versionPriority}]. */}}
{{- define "aa.apiServices" -}}
{{- $apis := list -}}
{{- if .Values.apiServices.customMetrics.enabled -}}
{{- $apis = append $apis (dict "group" "custom.metrics.k8s.io" "version" "v1beta2" "versionPriority" 200) -}}
{{- $apis = append $apis (dict "group" "custom.metrics.k8s.io" "version" "v1beta1" "versionPriority" 100) -}}
{{- end -}}
{{- if .Values.apiServices.externalMetrics.enabled -}}
{{- $apis = append $apis (dict "group" "external.metrics.k8s.io" "version" "v1beta1" "versionPriority" 100) -}}
{{- end -}}
{{- if .Values.apiServices.resourceMetrics.enabled -}}
{{- $apis = append $apis (dict "group" "metrics.k8s.io" "version" "v1beta1" "versionPriority" 100) -}}
{{- end -}}
{{- toJson $apis -}}
{{- end -}}

{{/* The adapter's config file. Empty sections are left out, so the adapter's own defaults apply. */}}
{{- define "aa.config" -}}
{{- $v := .Values -}}
{{- $dir := include "aa.secretsDir" . -}}
{{- $p := $v.prometheus -}}
{{- $prom := dict "url" $p.url -}}
{{- range $k := list "timeout" "maxRetries" "retryBackoff" "method" "postThresholdBytes" "maxResponseBytes" -}}
{{- if hasKey $p $k -}}{{- if not (kindIs "invalid" (get $p $k)) -}}{{- $_ := set $prom $k (get $p $k) -}}{{- end -}}{{- end -}}
{{- end -}}
{{- if $p.headers -}}{{- $_ := set $prom "headers" $p.headers -}}{{- end -}}
{{- if and $p.bearerToken.secretName $p.basicAuth.username -}}
{{- fail "prometheus: bearerToken and basicAuth exclude each other" -}}
{{- end -}}
{{- if $p.bearerToken.secretName -}}
{{- $_ := set $prom "bearerTokenFile" (printf "%s/prometheus/bearer-token/%s" $dir $p.bearerToken.key) -}}
{{- end -}}
{{- if $p.basicAuth.username -}}
{{- $_ := required "prometheus.basicAuth.passwordSecretName: the Secret holding the password" $p.basicAuth.passwordSecretName -}}
{{- $file := printf "%s/prometheus/basic-auth/%s" $dir $p.basicAuth.passwordKey -}}
{{- $_ := set $prom "basicAuth" (dict "username" $p.basicAuth.username "passwordFile" $file) -}}
{{- end -}}
{{- $tls := dict -}}
{{- if and $p.tls.ca.secretName $p.tls.ca.configMapName -}}
{{- fail "prometheus.tls.ca: secretName and configMapName exclude each other" -}}
{{- end -}}
{{- if or $p.tls.ca.secretName $p.tls.ca.configMapName -}}
{{- $_ := set $tls "caFile" (printf "%s/prometheus/ca/%s" $dir $p.tls.ca.key) -}}
{{- end -}}
{{- if $p.tls.clientCertSecretName -}}
{{- $_ := set $tls "certFile" (printf "%s/prometheus/client-tls/tls.crt" $dir) -}}
{{- $_ := set $tls "keyFile" (printf "%s/prometheus/client-tls/tls.key" $dir) -}}
{{- end -}}
{{- if $p.tls.serverName -}}{{- $_ := set $tls "serverName" $p.tls.serverName -}}{{- end -}}
{{- if $p.tls.insecureSkipVerify -}}{{- $_ := set $tls "insecureSkipVerify" true -}}{{- end -}}
{{- if $tls -}}{{- $_ := set $prom "tls" $tls -}}{{- end -}}
{{- $config := dict "prometheus" $prom -}}
{{- range $k := list "sampling" "podLabels" "discovery" -}}
{{- if get $v.config $k -}}{{- $_ := set $config $k (get $v.config $k) -}}{{- end -}}
{{- end -}}
{{- if and $v.grpc.insecure (or $v.grpc.tls.secretName $v.grpc.tls.clientCA.secretName $v.grpc.clientNames) -}}
{{- fail "grpc.insecure: plaintext has no certificates; unset grpc.tls.secretName, grpc.tls.clientCA and grpc.clientNames (clientNames: [])" -}}
{{- end -}}
{{- range $k := list "metrics" "rules" "externalRules" "resourceRules" -}}
{{- if get $v $k -}}{{- $_ := set $config $k (get $v $k) -}}{{- end -}}
{{- end -}}
{{- if not (or $v.metrics $v.rules $v.externalRules $v.resourceRules) -}}
{{- fail "metrics, rules, externalRules, resourceRules: the adapter needs at least one of them" -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

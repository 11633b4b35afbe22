{{/*
Names: fullnameOverride, else the release name with nameOverride (default "podpattern") added
unless already in it. nameOverride changes object names only: app.kubernetes.io/name stays
"podpattern", because the webhooks' objectSelector uses it to skip podpattern's own pods (and
webhook-config/ and the docs name the same label).
*/}}
{{- define "podpattern.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default "podpattern" .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "podpattern.selectorLabels" -}}
app.kubernetes.io/name: podpattern
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "podpattern.labels" -}}
{{ include "podpattern.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "podpattern.serviceAccountName" -}}
{{- default (include "podpattern.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "podpattern.tlsSecretName" -}}
{{- if eq .Values.tls.mode "secret" -}}
{{- .Values.tls.secret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "podpattern.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "podpattern.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Namespaces the webhooks and the policy never see. */}}
{{- define "podpattern.excludedNamespaces" -}}
{{- $names := list "kube-system" "kube-node-lease" .Release.Namespace -}}
{{- range .Values.webhook.excludeNamespaces -}}
{{- $names = append $names . -}}
{{- end -}}
{{- toJson ($names | uniq) -}}
{{- end -}}

{{/*
Which namespaces a webhook entry or the policy covers, for one namespace mode (enabled |
required). "defaults": "with" only namespaces labelled podpattern.dev/defaults=enabled (their
annotations give defaults, so every pod there goes to the webhook), "without" only the others,
absent both.
*/}}
{{- define "podpattern.namespaceSelector" -}}
matchExpressions:
  - key: podpattern.dev/injection
    operator: In
    values: [{{ .mode | quote }}]
  {{- if eq (default "" .defaults) "with" }}
  - key: podpattern.dev/defaults
    operator: In
    values: ["enabled"]
  {{- else if eq (default "" .defaults) "without" }}
  - key: podpattern.dev/defaults
    operator: NotIn
    values: ["enabled"]
  {{- end }}
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: {{ include "podpattern.excludedNamespaces" .root }}
{{- end -}}

{{- define "podpattern.objectSelector" -}}
matchExpressions:
  - key: app.kubernetes.io/name
    operator: NotIn
    values: ["podpattern"]
{{- end -}}

{{/*
CEL: the pod carries an annotation of the podpattern.dev domain (podpattern.dev/<key> or
<template>.podpattern.dev/<param>), so a misspelt key reaches the server and is denied with a
suggestion. Left out for namespaces labelled podpattern.dev/defaults=enabled (.all), whose
annotations give defaults that a webhook's matchConditions cannot see, and everywhere when
webhook.namespaceDefaults is on.
*/}}
{{- define "podpattern.matchConditions" -}}
{{- if not (or .all .root.Values.webhook.namespaceDefaults) }}
- name: has-a-podpattern-annotation
  expression: >-
    has(object.metadata.annotations) &&
    object.metadata.annotations.exists(k, k.startsWith('podpattern.dev/') || k.contains('.podpattern.dev/'))
{{- end }}
- name: not-a-mirror-pod
  expression: >-
    !has(object.metadata.annotations) ||
    !('kubernetes.io/config.mirror' in object.metadata.annotations)
{{- end -}}

{{- define "podpattern.checks" -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (add .Values.preStopSleepSeconds .Values.server.drainSeconds | int) -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be greater than preStopSleepSeconds (%v) + server.drainSeconds (%v), or the kubelet kills the server before it drains" .Values.terminationGracePeriodSeconds .Values.preStopSleepSeconds .Values.server.drainSeconds) -}}
{{- end -}}
{{- if eq (int .Values.server.port) (int .Values.server.healthPort) -}}
{{- fail (printf "server.port and server.healthPort must differ (both %v)" .Values.server.port) -}}
{{- end -}}
{{- if and (ne .Values.clientAuth.mode "none") (not .Values.clientAuth.caSecret) -}}
{{- fail (printf "clientAuth.mode=%s needs clientAuth.caSecret: a Secret holding the CA that signs the API server's client certificate" .Values.clientAuth.mode) -}}
{{- end -}}
{{- end -}}

{{/*
--max-old-space-size (MiB) for the container's memory limit: 37.5 % of it, as
src/server/heap.ts computes (V8 sizes its heap from the node's memory, not the container's).
Empty when resources.limits.memory is unset. Quantities: Ki, Mi, Gi, K, M, G or plain bytes.
*/}}
{{- define "podpattern.heapMiB" -}}
{{- $limit := "" -}}
{{- with .Values.resources }}{{ with .limits }}{{ with .memory }}{{ $limit = toString . }}{{ end }}{{ end }}{{ end -}}
{{- if $limit -}}
{{- $bytes := 0.0 -}}
{{- if hasSuffix "Gi" $limit -}}{{- $bytes = mulf (trimSuffix "Gi" $limit | float64) 1073741824 -}}
{{- else if hasSuffix "Mi" $limit -}}{{- $bytes = mulf (trimSuffix "Mi" $limit | float64) 1048576 -}}
{{- else if hasSuffix "Ki" $limit -}}{{- $bytes = mulf (trimSuffix "Ki" $limit | float64) 1024 -}}
{{- else if hasSuffix "G" $limit -}}{{- $bytes = mulf (trimSuffix "G" $limit | float64) 1000000000 -}}
{{- else if hasSuffix "M" $limit -}}{{- $bytes = mulf (trimSuffix "M" $limit | float64) 1000000 -}}
{{- else if hasSuffix "K" $limit -}}{{- $bytes = mulf (trimSuffix "K" $limit | float64) 1000 -}}
{{- else -}}{{- $bytes = $limit | float64 -}}
{{- end -}}
{{- floor (divf (mulf $bytes 0.375) 1048576) | int -}}
{{- end -}}
{{- end -}}

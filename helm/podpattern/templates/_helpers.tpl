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
    {{- if .modes }}
    values: {{ toJson .modes }}
    {{- else }}
    values: [{{ .mode | quote }}]
    {{- end }}
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

{{/*
CEL for the workloads entry: the workload's own metadata or its pod template (at spec.template,
or a CronJob's spec.jobTemplate.spec.template) carries a podpattern.dev annotation; no controller
owns it (a Deployment's ReplicaSets and a CronJob's Jobs were read as their owner); an update
changes the spec or the annotations (a controller's status and bookkeeping writes are not sent).
*/}}
{{- define "podpattern.workloadMatchConditions" -}}
- name: has-a-podpattern-annotation
  expression: >-
    (has(object.metadata.annotations) &&
    object.metadata.annotations.exists(k, k.startsWith('podpattern.dev/') || k.contains('.podpattern.dev/'))) ||
    (has(object.spec.template) && has(object.spec.template.metadata) && has(object.spec.template.metadata.annotations) &&
    object.spec.template.metadata.annotations.exists(k, k.startsWith('podpattern.dev/') || k.contains('.podpattern.dev/'))) ||
    (has(object.spec.jobTemplate) && has(object.spec.jobTemplate.spec) && has(object.spec.jobTemplate.spec.template) &&
    has(object.spec.jobTemplate.spec.template.metadata) && has(object.spec.jobTemplate.spec.template.metadata.annotations) &&
    object.spec.jobTemplate.spec.template.metadata.annotations.exists(k, k.startsWith('podpattern.dev/') || k.contains('.podpattern.dev/')))
- name: not-owned-by-a-controller
  expression: >-
    !has(object.metadata.ownerReferences) ||
    !object.metadata.ownerReferences.exists(r, has(r.controller) && r.controller)
- name: created-or-changed
  expression: >-
    request.operation == 'CREATE' || object.spec != oldObject.spec ||
    (has(object.metadata.annotations) ? object.metadata.annotations : {}) != (has(oldObject.metadata.annotations) ? oldObject.metadata.annotations : {})
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
{{- include "podpattern.checkReplicas" . -}}
{{- end -}}

{{/*
The fewest replicas the Deployment runs: replicaCount, or the autoscaler's minReplicas.
*/}}
{{- define "podpattern.minReplicas" -}}
{{- if .Values.autoscaling.enabled }}{{ .Values.autoscaling.minReplicas }}{{ else }}{{ .Values.replicaCount }}{{ end -}}
{{- end -}}

{{/*
A count of pods from an integer or a percentage ("25%") of `replicas`, rounded as the
controller that reads it rounds: up for a PodDisruptionBudget's maxUnavailable (the disruption
controller) and a rolling update's maxSurge, down for a rolling update's maxUnavailable (the
Deployment controller). Arguments: (list value replicas roundUp).
*/}}
{{- define "podpattern.podCount" -}}
{{- $value := index . 0 -}}{{- $replicas := index . 1 | int -}}
{{- if and (kindIs "string" $value) (hasSuffix "%" $value) -}}
{{- $percent := trimSuffix "%" $value | int -}}
{{- if index . 2 }}{{ div (add (mul $percent $replicas) 99) 100 }}{{ else }}{{ div (mul $percent $replicas) 100 }}{{ end -}}
{{- else -}}
{{- $value | int -}}
{{- end -}}
{{- end -}}

{{/*
No drain and no upgrade, nor both at once, may take the last ready replica (docs/install.md,
"Replicas, disruptions and rollouts"). With n the fewest replicas, a rollout takes down at most
rollingUpdate.maxUnavailable (u) of them and evictions at most the PodDisruptionBudget's
maxUnavailable (d); the two controllers decide apart, so the rule is u + d <= n - 1.
*/}}
{{- define "podpattern.checkReplicas" -}}
{{- $n := include "podpattern.minReplicas" . | int -}}
{{- $what := ternary "autoscaling.minReplicas" "replicaCount" .Values.autoscaling.enabled -}}
{{- if .Values.autoscaling.enabled -}}
{{- if lt (int .Values.autoscaling.maxReplicas) $n -}}
{{- fail (printf "autoscaling.maxReplicas (%v) must be at least autoscaling.minReplicas (%v)" .Values.autoscaling.maxReplicas $n) -}}
{{- end -}}
{{- if not (and .Values.resources .Values.resources.requests .Values.resources.requests.cpu) -}}
{{- fail "autoscaling needs resources.requests.cpu: CPU utilisation is a percentage of the request" -}}
{{- end -}}
{{- end -}}
{{- $surge := include "podpattern.podCount" (list .Values.rollingUpdate.maxSurge $n true) | int -}}
{{- $u := include "podpattern.podCount" (list .Values.rollingUpdate.maxUnavailable $n false) | int -}}
{{- if and (eq $u 0) (eq $surge 0) -}}
{{- fail (printf "rollingUpdate.maxUnavailable (%v) and rollingUpdate.maxSurge (%v) come to 0 pods each for %d replicas: the rollout could never replace a pod (Kubernetes refuses both 0)" .Values.rollingUpdate.maxUnavailable .Values.rollingUpdate.maxSurge $n) -}}
{{- end -}}
{{- if ge $u $n -}}
{{- fail (printf "rollingUpdate.maxUnavailable (%v) lets a rollout take down all %d replicas (%s): set it below that, e.g. 0" .Values.rollingUpdate.maxUnavailable $n $what) -}}
{{- end -}}
{{- if .Values.podDisruptionBudget.enabled -}}
{{- if lt $n 2 -}}
{{- fail (printf "%s is %d with podDisruptionBudget.enabled: a node drain would evict the only replica; set %s to 2 or more, or podDisruptionBudget.enabled=false" $what $n $what) -}}
{{- end -}}
{{- $d := include "podpattern.podCount" (list .Values.podDisruptionBudget.maxUnavailable $n true) | int -}}
{{- if lt $d 1 -}}
{{- fail (printf "podDisruptionBudget.maxUnavailable (%v) comes to 0 of %d replicas: a node drain would never finish" .Values.podDisruptionBudget.maxUnavailable $n) -}}
{{- end -}}
{{- if ge (add $u $d) $n -}}
{{- fail (printf "rollingUpdate.maxUnavailable (%v) and podDisruptionBudget.maxUnavailable (%v) may take down %d + %d of %d replicas (%s) at once: a drain during an upgrade could take the last ready one; together they must leave one" .Values.rollingUpdate.maxUnavailable .Values.podDisruptionBudget.maxUnavailable $u $d $n $what) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
--max-old-space-size (MiB) for the container's memory limit: 29 % of it, as
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
{{- floor (divf (mulf $bytes 0.29) 1048576) | int -}}
{{- end -}}
{{- end -}}

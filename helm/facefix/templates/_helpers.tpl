{{/*
Names, labels, images and the settings shared by every facefix container.
*/}}

{{- define "facefix.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped prefix of every resource name; kept short enough for the suffixes. */}}
{{- define "facefix.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 55 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 55 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 55 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of a component's resources: <fullname>-<component>. Call with (dict "ctx" $ "component" "api"). */}}
{{- define "facefix.componentName" -}}
{{- printf "%s-%s" (include "facefix.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "facefix.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every resource carries. */}}
{{- define "facefix.labels" -}}
helm.sh/chart: {{ include "facefix.chart" . }}
app.kubernetes.io/name: {{ include "facefix.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: facefix
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one component. Call with (dict "ctx" $ "component" "worker"). */}}
{{- define "facefix.componentLabels" -}}
{{ include "facefix.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Immutable selector of one component's pods (never add changing labels here). */}}
{{- define "facefix.selectorLabels" -}}
app.kubernetes.io/name: {{ include "facefix.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* metadata.annotations body shared by every resource (may be empty). */}}
{{- define "facefix.commonAnnotations" -}}
{{- with .Values.commonAnnotations }}
{{- toYaml . }}
{{- end }}
{{- end -}}

{{- define "facefix.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "facefix.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "facefix.secretName" -}}
{{- default (include "facefix.fullname" .) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "facefix.configMapName" -}}
{{- printf "%s-config" (include "facefix.fullname" .) -}}
{{- end -}}

{{/*
A full image reference. Call with (dict "ctx" $ "image" .Values.api.image).
global.imageRegistry wins over image.registry; a digest wins over a tag.
*/}}
{{- define "facefix.image" -}}
{{- $registry := coalesce .ctx.Values.global.imageRegistry .image.registry .ctx.Values.image.registry | default "" -}}
{{- $tag := coalesce .image.tag .ctx.Values.image.tag .ctx.Chart.AppVersion | toString -}}
{{- $ref := .image.repository -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $ref }}{{ end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref $tag -}}
{{- end -}}
{{- end -}}

{{/* The worker's image: the CUDA build on GPU nodes, the CPU build elsewhere. */}}
{{- define "facefix.workerImage" -}}
{{- if .Values.worker.gpu.enabled -}}
{{- include "facefix.image" (dict "ctx" . "image" .Values.worker.gpu.image) -}}
{{- else -}}
{{- include "facefix.image" (dict "ctx" . "image" .Values.worker.image) -}}
{{- end -}}
{{- end -}}

{{- define "facefix.workerDevice" -}}
{{- if .Values.worker.device -}}
{{- .Values.worker.device -}}
{{- else if .Values.worker.gpu.enabled -}}
cuda
{{- else -}}
cpu
{{- end -}}
{{- end -}}

{{/* Grace period that always leaves the worker's drain time to finish before SIGKILL. */}}
{{- define "facefix.workerGracePeriod" -}}
{{- if gt (int .Values.worker.terminationGracePeriodSeconds) 0 -}}
{{- int .Values.worker.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add (int .Values.worker.preStopSleepSeconds) (int .Values.worker.drainTimeoutSeconds) 10 -}}
{{- end -}}
{{- end -}}

{{/*
Environment of every facefix container: non-secret settings from the ConfigMap,
connection URLs and S3 keys from the Secret. The S3 keys are optional so that an
existing Secret without them falls back to the AWS default chain (IRSA).
*/}}
{{- define "facefix.commonEnv" -}}
{{- $secret := include "facefix.secretName" . -}}
{{- $keys := .Values.auth.existingSecretKeys -}}
- name: FACEFIX_QUEUE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.queueUrl }}
- name: FACEFIX_STORE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.storeUrl }}
- name: FACEFIX_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.s3AccessKeyId }}
      optional: true
- name: FACEFIX_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.s3SecretAccessKey }}
      optional: true
{{- include "facefix.envFromMap" .Values.config.extraEnv }}
{{- end -}}

{{/*
The webhook signing secret, for the API (which accepts webhooks only with one) and the
workers (which sign with it). Optional: a Secret without it means no webhooks.
*/}}
{{- define "facefix.webhookEnv" -}}
- name: FACEFIX_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "facefix.secretName" . }}
      key: {{ .Values.auth.existingSecretKeys.webhookSecret }}
      optional: true
{{- end -}}

{{/*
`NAME: value` map to an env list. Call with the map. A map value is the entry's body,
e.g. `NAME: {valueFrom: {secretKeyRef: {name: s, key: k}}}`.
*/}}
{{- define "facefix.envFromMap" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
{{- if kindIs "map" $value }}
  {{- toYaml $value | nindent 2 }}
{{- else }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The worker's node selector: worker.nodeSelector over the GPU node group's label. */}}
{{- define "facefix.workerNodeSelector" -}}
{{- $w := .Values.worker -}}
{{- $sel := deepCopy (default (dict) $w.nodeSelector) -}}
{{- if $w.gpu.enabled }}{{ $sel = merge $sel (deepCopy (default (dict) $w.gpu.nodeSelector)) }}{{ end -}}
{{- with $sel }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/* The worker's tolerations: worker.tolerations plus the GPU node group's taint. */}}
{{- define "facefix.workerTolerations" -}}
{{- $w := .Values.worker -}}
{{- $tol := default (list) $w.tolerations -}}
{{- if $w.gpu.enabled }}{{ $tol = concat $tol (default (list) $w.gpu.tolerations) | uniq }}{{ end -}}
{{- with $tol }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/*
Pod annotations that roll the pods when their configuration changes: a Deployment
only restarts pods when its pod template changes, not when a ConfigMap or Secret does.
*/}}
{{- define "facefix.checksumAnnotations" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.auth.existingSecret }}
checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end -}}

{{/* HTTP probe. Call with (dict "probe" .Values.api.readinessProbe "path" "/readyz" "port" "http"). */}}
{{- define "facefix.httpProbe" -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
{{- with .probe.initialDelaySeconds }}
initialDelaySeconds: {{ . }}
{{- end }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- with .probe.successThreshold }}
successThreshold: {{ . }}
{{- end }}
{{- end -}}

{{/* A PDB spec body from {minAvailable, maxUnavailable}: exactly one of them. */}}
{{- define "facefix.pdbSpec" -}}
{{- if not (kindIs "invalid" .minAvailable) }}{{ if ne (toString .minAvailable) "" }}
minAvailable: {{ .minAvailable }}
{{- end }}{{ end }}
{{- if or (kindIs "invalid" .minAvailable) (eq (toString .minAvailable) "") }}
maxUnavailable: {{ .maxUnavailable }}
{{- end }}
{{- end -}}

{{/*
The autoscaling signal: work = ready messages (the API's gauge, from the broker) + the
deliveries the workers hold (prefetched or in progress, which the broker counts as
unacked, not ready). Recorded once by the PrometheusRule under this name, with the labels
below; the HPA (through prometheus-adapter) and KEDA read that series.
*/}}
{{- define "facefix.workSignal.name" -}}
facefix:queue_work:messages
{{- end -}}

{{/* Labels of the recorded work series: this release's namespace and API Service. */}}
{{- define "facefix.workSignal.labels" -}}
namespace: {{ .Release.Namespace }}
service: {{ include "facefix.componentName" (dict "ctx" . "component" "api") }}
{{- end -}}

{{/* The recorded work series of this release, as a PromQL selector (KEDA's query). */}}
{{- define "facefix.workSignal.selector" -}}
{{- $labels := include "facefix.workSignal.labels" . | fromYaml -}}
{{- printf "%s{namespace=%q, service=%q}" (include "facefix.workSignal.name" .) $labels.namespace $labels.service -}}
{{- end -}}

{{/* Whether the PrometheusRule carries the work recording rule: whenever something reads it. */}}
{{- define "facefix.workSignal.recorded" -}}
{{- $a := .Values.worker.autoscaling -}}
{{- if or .Values.metrics.prometheusRule.enabled $a.hpa.enabled $a.keda.enabled -}}true{{- end -}}
{{- end -}}

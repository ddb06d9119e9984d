{{/*
Refuses value combinations that would install but not work, and says how to fix each.
Rendered from NOTES.txt and configmap.yaml, so `helm install`, `helm upgrade` and
`helm template` all stop before anything is applied.
*/}}
{{- define "facefix.validateValues" -}}
{{- $errors := list -}}
{{- $w := .Values.worker -}}
{{- $a := .Values.worker.autoscaling -}}

{{- if and $a.hpa.enabled $a.keda.enabled -}}
{{- $errors = append $errors "worker.autoscaling: the HPA and KEDA would fight over the worker replicas.\n    Fix: keep one, e.g. --set worker.autoscaling.hpa.enabled=false (KEDA, can scale to zero)\n         or --set worker.autoscaling.keda.enabled=false (HPA on the prometheus-adapter metric)." -}}
{{- end -}}

{{- if and $a.hpa.enabled (lt (int $a.hpa.minReplicas) 1) -}}
{{- $errors = append $errors "worker.autoscaling.hpa.minReplicas: an HPA cannot scale to zero.\n    Fix: --set worker.autoscaling.hpa.minReplicas=1, or use KEDA for zero:\n         --set worker.autoscaling.hpa.enabled=false,worker.autoscaling.keda.enabled=true,worker.autoscaling.keda.minReplicaCount=0" -}}
{{- end -}}

{{- if and $a.hpa.enabled (gt (int $a.hpa.minReplicas) (int $a.hpa.maxReplicas)) -}}
{{- $errors = append $errors (printf "worker.autoscaling.hpa: minReplicas (%d) is above maxReplicas (%d).\n    Fix: --set worker.autoscaling.hpa.maxReplicas=%d" (int $a.hpa.minReplicas) (int $a.hpa.maxReplicas) (int $a.hpa.minReplicas)) -}}
{{- end -}}

{{- if and $a.keda.enabled (gt (int $a.keda.minReplicaCount) (int $a.keda.maxReplicaCount)) -}}
{{- $errors = append $errors (printf "worker.autoscaling.keda: minReplicaCount (%d) is above maxReplicaCount (%d).\n    Fix: --set worker.autoscaling.keda.maxReplicaCount=%d" (int $a.keda.minReplicaCount) (int $a.keda.maxReplicaCount) (int $a.keda.minReplicaCount)) -}}
{{- end -}}

{{- if and (or $a.hpa.enabled $a.keda.enabled) (not .Values.metrics.serviceMonitor.enabled) -}}
{{- $errors = append $errors "worker.autoscaling: the HPA and KEDA read the work series recorded from the API's and the workers' metrics, scoped by the `service` label that the chart's ServiceMonitor gives them; without it the series never exists and the workers never scale.\n    Fix: --set metrics.serviceMonitor.enabled=true (and its labels, e.g. release=kube-prometheus-stack, so that Prometheus selects it)" -}}
{{- end -}}

{{- if and .Values.api.autoscaling.enabled (not (and .Values.api.resources.requests .Values.api.resources.requests.cpu)) -}}
{{- $errors = append $errors "api.autoscaling: a CPU HPA measures utilisation against the CPU request, and api.resources.requests.cpu is unset.\n    Fix: --set api.resources.requests.cpu=250m (or --set api.autoscaling.enabled=false)" -}}
{{- end -}}

{{- $grace := int (include "facefix.workerGracePeriod" .) -}}
{{- $needed := add (int $w.preStopSleepSeconds) (int $w.drainTimeoutSeconds) -}}
{{- if le $grace (int $needed) -}}
{{- $errors = append $errors (printf "worker.terminationGracePeriodSeconds (%d) leaves no time to drain: preStop (%ds) + drain (%ds) = %ds, and Kubernetes kills the worker at the end of the grace period, dropping its in-flight jobs back into the queue.\n    Fix: --set worker.terminationGracePeriodSeconds=%d (or 0 to compute it)" $grace (int $w.preStopSleepSeconds) (int $w.drainTimeoutSeconds) (int $needed) (add $needed 10)) -}}
{{- end -}}

{{- if le (int .Values.api.terminationGracePeriodSeconds) (int .Values.api.preStopSleepSeconds) -}}
{{- $errors = append $errors (printf "api.terminationGracePeriodSeconds (%d) must be longer than api.preStopSleepSeconds (%d).\n    Fix: --set api.terminationGracePeriodSeconds=%d" (int .Values.api.terminationGracePeriodSeconds) (int .Values.api.preStopSleepSeconds) (add (int .Values.api.preStopSleepSeconds) 25)) -}}
{{- end -}}

{{- if and $w.gpu.enabled (eq (include "facefix.workerDevice" .) "cpu") -}}
{{- $errors = append $errors "worker.device is cpu while worker.gpu.enabled is true: the pods would hold a GPU and not use it.\n    Fix: --set worker.device=cuda (or leave it empty)" -}}
{{- end -}}

{{- if and (not $w.gpu.enabled) (eq (include "facefix.workerDevice" .) "cuda") -}}
{{- $errors = append $errors "worker.device is cuda but worker.gpu.enabled is false: the CPU image has no CUDA provider and the pods request no GPU.\n    Fix: --set worker.gpu.enabled=true (or --set worker.device=cpu)" -}}
{{- end -}}

{{- if and (eq .Values.models.source "pvc") (not .Values.models.persistence.existingClaim) -}}
{{- $errors = append $errors "models.source=pvc needs the claim that holds the models.\n    Fix: --set models.persistence.existingClaim=facefix-models (or --set models.source=fetch to download them)" -}}
{{- end -}}

{{- if and (eq .Values.models.source "fetch") (not .Values.models.items) -}}
{{- $errors = append $errors "models.source=fetch with an empty models.items: there is nothing to download.\n    Fix: list the models (name, file, url, sha256) under models.items, or --set models.source=baked" -}}
{{- end -}}

{{- /* A restorer the worker is told to load must be baked in or listed for the init container. */ -}}
{{- $available := list "facefix-usm-512" -}}
{{- if ne .Values.models.source "baked" -}}
{{- range .Values.models.items }}{{ $available = append $available (toString .name) }}{{ end -}}
{{- end -}}
{{- range $name := (concat (compact (list .Values.models.restorer)) .Values.models.restorers) -}}
{{- if not (has $name $available) -}}
{{- $errors = append $errors (printf "models: restorer %q is neither baked into the image nor in models.items (with models.source fetch or pvc), so the worker would not start.\n    Fix: add it to models.items (name, file, url, sha256 from models/manifest.toml) and --set models.source=fetch" $name) -}}
{{- end -}}
{{- end -}}

{{- range $i, $m := .Values.models.items -}}
{{- if not (regexMatch "^[0-9a-f]{64}$" (toString $m.sha256)) -}}
{{- $errors = append $errors (printf "models.items[%d] (%s): sha256 must be 64 lower-case hex digits, got %q.\n    Fix: sha256sum %s and paste the first field" $i (toString $m.name) (toString $m.sha256) (toString $m.file)) -}}
{{- end -}}
{{- end -}}

{{- if and .Values.blob.accessKeyId (not .Values.blob.secretAccessKey) (not .Values.auth.existingSecret) -}}
{{- $errors = append $errors "blob.accessKeyId is set without blob.secretAccessKey.\n    Fix: --set blob.secretAccessKey=... (or unset both to use IRSA / the AWS default chain)" -}}
{{- end -}}

{{- if and .Values.api.ingress.enabled (not .Values.api.ingress.hostname) -}}
{{- $errors = append $errors "api.ingress.enabled needs a host name.\n    Fix: --set api.ingress.hostname=facefix.example.org" -}}
{{- end -}}

{{- if $errors -}}
{{- fail (printf "\n\nfacefix: invalid values\n\n  - %s\n" (join "\n\n  - " $errors)) -}}
{{- end -}}
{{- end -}}

{{/* Chart name, truncated to the 63 characters of a label value. */}}
{{- define "facefleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified name of the release's objects. */}}
{{- define "facefleet.fullname" -}}
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

{{- define "facefleet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object except the component. */}}
{{- define "facefleet.commonLabels" -}}
helm.sh/chart: {{ include "facefleet.chart" . }}
app.kubernetes.io/name: {{ include "facefleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: facefleet
{{- end -}}

{{/* Labels of the worker's objects. */}}
{{- define "facefleet.labels" -}}
{{ include "facefleet.commonLabels" . }}
app.kubernetes.io/component: worker
{{- end -}}

{{/* Labels selecting the worker pods. */}}
{{- define "facefleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "facefleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: worker
{{- end -}}

{{- define "facefleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "facefleet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The worker image: appVersion by default, with the GPU suffix on GPU nodes. */}}
{{- define "facefleet.image" -}}
{{- $tag := .Values.image.tag | default (printf "%s%s" .Chart.AppVersion (ternary .Values.gpu.imageTagSuffix "" .Values.gpu.enabled)) -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}

{{/*
A number as the worker parses it: whole numbers without an exponent (YAML numbers reach templates as
float64, which quote would print as 3.6e+06).
*/}}
{{- define "facefleet.number" -}}
{{- if and (kindIs "float64" .) (eq (float64 .) (float64 (int64 .))) -}}
{{- int64 . | quote -}}
{{- else -}}
{{- . | quote -}}
{{- end -}}
{{- end -}}

{{/* The drain deadline in whole seconds, rounded up. */}}
{{- define "facefleet.drainSeconds" -}}
{{- $ms := int64 .Values.config.drainTimeoutMs -}}
{{- div (add $ms 999) 1000 -}}
{{- end -}}

{{/*
The pod's grace period: explicit, or the drain deadline plus terminationGraceExtraSeconds. It must
exceed the drain deadline, or the kubelet kills a worker that is still finishing its batch.
*/}}
{{- define "facefleet.terminationGracePeriodSeconds" -}}
{{- $drain := int (include "facefleet.drainSeconds" .) -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds -}}
{{- add $drain (int .Values.terminationGraceExtraSeconds) -}}
{{- else -}}
{{- $grace := int .Values.terminationGracePeriodSeconds -}}
{{- if le $grace $drain -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be above config.drainTimeoutMs (%d ms): the kubelet would kill workers while they drain" $grace (int .Values.config.drainTimeoutMs)) -}}
{{- end -}}
{{- $grace -}}
{{- end -}}
{{- end -}}

{{/*
Label matchers of the queue-depth series: this queue, the three states a worker still has to do
(waiting, prioritized, active), and this namespace unless autoscaling.matchNamespace is false.
*/}}
{{- define "facefleet.queueDepthMatchers" -}}
{{- $m := list -}}
{{- if .Values.autoscaling.matchNamespace -}}
{{- $m = append $m (printf "namespace=%q" .Release.Namespace) -}}
{{- end -}}
{{- $m = append $m (printf "queue=%q" .Values.config.queue) -}}
{{- $m = append $m "state=~\"waiting|prioritized|active\"" -}}
{{- join "," $m -}}
{{- end -}}

{{/*
The queue depth in jobs. Every worker reads the same BullMQ counts and exports them, so N workers
report N identical copies of each state: max by (state) keeps one copy per state (sum across pods
would count the backlog N times and scale on N x the real depth), then sum adds up the states. A
split queue (config.shards > 1) reports each shard under a shard label, read by the workers that
consume it: one copy per shard and state, then the sum over shards and states.
*/}}
{{- define "facefleet.queueDepthQuery" -}}
{{- $by := ternary "shard, state" "state" (gt (int .Values.config.shards) 1) -}}
sum(max by ({{ $by }}) (facefleet_queue_jobs{ {{- include "facefleet.queueDepthMatchers" . -}} }))
{{- end -}}

{{/* Redis: the env entries that define REDIS_URL (and the password it is composed with). */}}
{{- define "facefleet.redisEnv" -}}
{{- $r := .Values.redis -}}
{{- if and $r.existingSecret $r.urlKey }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $r.existingSecret | quote }}
      key: {{ $r.urlKey | quote }}
{{- else if $r.existingSecret }}
# Kubernetes expands $(FACEFLEET_REDIS_PASSWORD) from the entry above; the password must be URL-safe.
- name: FACEFLEET_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $r.existingSecret | quote }}
      key: {{ $r.passwordKey | quote }}
- name: REDIS_URL
  value: {{ regexReplaceAll "^(rediss?://)" $r.url (printf "${1}%s:$(FACEFLEET_REDIS_PASSWORD)@" $r.username) | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ $r.url | quote }}
{{- end }}
- name: FACEFLEET_REDIS_CLUSTER
  value: {{ $r.cluster | quote }}
{{- end -}}

{{/* S3: endpoint, region, addressing and credentials from existingSecret. */}}
{{- define "facefleet.s3Env" -}}
{{- $s := .Values.s3 -}}
{{- if regexMatch "^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@" (toString $s.endpoint) }}
{{- fail "s3.endpoint must not carry credentials (user:password@): the Deployment would show them in plain text. Put the keys in a Secret and name it in s3.existingSecret (keys accessKeyIdKey, secretAccessKeyKey)" }}
{{- end }}
{{- with $s.endpoint }}
- name: FACEFLEET_S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with $s.region }}
- name: FACEFLEET_S3_REGION
  value: {{ . | quote }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with $s.forcePathStyle }}
- name: FACEFLEET_S3_FORCE_PATH_STYLE
  value: {{ . | quote }}
{{- end }}
{{- if $s.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $s.existingSecret | quote }}
      key: {{ $s.accessKeyIdKey | quote }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $s.existingSecret | quote }}
      key: {{ $s.secretAccessKeyKey | quote }}
{{- with $s.sessionTokenKey }}
- name: AWS_SESSION_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $s.existingSecret | quote }}
      key: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Queue and logging settings shared by the worker and the producer. */}}
{{- define "facefleet.queueEnv" -}}
{{- include "facefleet.checkQueueLayout" . -}}
- name: FACEFLEET_QUEUE
  value: {{ .Values.config.queue | quote }}
- name: FACEFLEET_REDIS_PREFIX
  value: {{ .Values.config.redisPrefix | quote }}
- name: FACEFLEET_SHARDS
  value: {{ include "facefleet.number" .Values.config.shards }}
- name: FACEFLEET_MODEL
  value: {{ .Values.config.model | quote }}
- name: FACEFLEET_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
{{- end -}}

{{/* Volumes every facefleet container needs with a read-only root filesystem. */}}
{{- define "facefleet.tmpVolume" -}}
- name: tmp
  emptyDir: {}
{{- end -}}

{{/*
The checks the worker makes of the queue layout at start (src/config/common.ts, queueLayoutProblems),
made at render time: a split queue's shards are hash tags of their own, so braces in the prefix or
the queue name would put every shard in one slot; an unsplit queue on a Redis Cluster needs one tag.
*/}}
{{- define "facefleet.checkQueueLayout" -}}
{{- $c := .Values.config -}}
{{- if gt (int $c.shards) 1 -}}
{{- if or (contains "{" $c.redisPrefix) (contains "}" $c.redisPrefix) (contains "{" $c.queue) (contains "}" $c.queue) -}}
{{- fail (printf "config.shards %d: each shard's queue name is its own hash tag ({%s-0} ...), so config.redisPrefix (%s) and config.queue (%s) must hold no braces" (int $c.shards) $c.queue $c.redisPrefix $c.queue) -}}
{{- end -}}
{{- else if and .Values.redis.cluster (not (regexMatch "^[^{]*\\{[^}]+\\}" (printf "%s:%s:" $c.redisPrefix $c.queue))) -}}
{{- fail (printf "redis.cluster with config.shards 1: the queue's keys must share one slot, so config.redisPrefix needs a hash tag such as {facefleet} (given %s), or split the queue with config.shards" $c.redisPrefix) -}}
{{- end -}}
{{- end -}}

{{- define "kubecharge.name" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubecharge.labels" -}}
app.kubernetes.io/name: kubecharge
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kubecharge.selector" -}}
app.kubernetes.io/name: kubecharge
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubecharge.checks" -}}
{{- if and (eq .Values.database.type "sqlite") (gt (int .Values.replicas) 1) -}}
{{- fail "replicas > 1 needs database.type=postgresql: SQLite on a ReadWriteOnce volume serves one replica" -}}
{{- end -}}
{{- if and (eq .Values.database.type "postgresql") (not .Values.database.postgresql.existingSecret) -}}
{{- fail "database.type=postgresql needs database.postgresql.existingSecret (a Secret holding the database URL)" -}}
{{- end -}}
{{- end -}}

{{- define "kubecharge.databaseEnv" -}}
{{- if eq .Values.database.type "sqlite" -}}
- name: KUBECHARGE_DATABASE_URL
  value: "sqlite:////data/kubecharge.db"
{{- else -}}
- name: KUBECHARGE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.postgresql.existingSecret }}
      key: {{ .Values.database.postgresql.secretKey }}
{{- end -}}
{{- end -}}

{{- define "kubecharge.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "kubecharge.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if eq .Values.database.type "sqlite" }}
- name: data
  mountPath: /data
{{- end -}}
{{- end -}}

{{/* The querier's credentials and CA, mounted into the operator only. */}}
{{- define "kubecharge.prometheusMounts" -}}
{{- with .Values.prometheus }}
{{- if .bearerTokenSecret.name }}
- name: prometheus-token
  mountPath: /etc/kubecharge/prometheus-token
  readOnly: true
{{- end }}
{{- if .basicAuth.passwordSecret.name }}
- name: prometheus-password
  mountPath: /etc/kubecharge/prometheus-password
  readOnly: true
{{- end }}
{{- if .caConfigMap.name }}
- name: prometheus-ca
  mountPath: /etc/kubecharge/prometheus-ca
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{- define "kubecharge.prometheusVolumes" -}}
{{- with .Values.prometheus }}
{{- if .bearerTokenSecret.name }}
- name: prometheus-token
  secret:
    secretName: {{ .bearerTokenSecret.name }}
{{- end }}
{{- if .basicAuth.passwordSecret.name }}
- name: prometheus-password
  secret:
    secretName: {{ .basicAuth.passwordSecret.name }}
{{- end }}
{{- if .caConfigMap.name }}
- name: prometheus-ca
  configMap:
    name: {{ .caConfigMap.name }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "kubecharge.prometheusEnv" -}}
{{- with .Values.prometheus }}
{{- if .allowedReportUrlPrefixes }}
- name: KUBECHARGE_PROMETHEUS_URL_ALLOWED_PREFIXES
  value: {{ toJson .allowedReportUrlPrefixes | quote }}
{{- end }}
{{- if .stateMetricsIntervalSeconds }}
- name: KUBECHARGE_QUERY_STATE_METRICS_INTERVAL_SECONDS
  value: {{ .stateMetricsIntervalSeconds | quote }}
{{- end }}
{{- if .gpuJobLabels }}
- name: KUBECHARGE_QUERY_GPU_JOB_LABELS
  value: {{ toJson .gpuJobLabels | quote }}
{{- end }}
{{- if .cadvisorJobLabels }}
- name: KUBECHARGE_QUERY_CADVISOR_JOB_LABELS
  value: {{ toJson .cadvisorJobLabels | quote }}
{{- end }}
{{- if .stateMetricsJobLabels }}
- name: KUBECHARGE_QUERY_STATE_METRICS_JOB_LABELS
  value: {{ toJson .stateMetricsJobLabels | quote }}
{{- end }}
{{- if .clusterLabel }}
- name: KUBECHARGE_CLUSTER_LABEL
  value: {{ .clusterLabel | quote }}
{{- end }}
{{- if .timeoutSeconds }}
- name: KUBECHARGE_PROMETHEUS_TIMEOUT_SECONDS
  value: {{ .timeoutSeconds | quote }}
{{- end }}
{{- if .concurrency }}
- name: KUBECHARGE_PROMETHEUS_CONCURRENCY
  value: {{ .concurrency | quote }}
{{- end }}
{{- if .tenant }}
- name: KUBECHARGE_PROMETHEUS_TENANT
  value: {{ .tenant | quote }}
{{- end }}
{{- if .headers }}
- name: KUBECHARGE_PROMETHEUS_HEADERS
  value: {{ toJson .headers | quote }}
{{- end }}
{{- if .bearerTokenSecret.name }}
- name: KUBECHARGE_PROMETHEUS_BEARER_TOKEN_FILE
  value: /etc/kubecharge/prometheus-token/{{ .bearerTokenSecret.key }}
{{- else if .bearerTokenFile }}
- name: KUBECHARGE_PROMETHEUS_BEARER_TOKEN_FILE
  value: {{ .bearerTokenFile | quote }}
{{- end }}
{{- if .basicAuth.username }}
- name: KUBECHARGE_PROMETHEUS_BASIC_AUTH_USERNAME
  value: {{ .basicAuth.username | quote }}
- name: KUBECHARGE_PROMETHEUS_BASIC_AUTH_PASSWORD_FILE
  value: /etc/kubecharge/prometheus-password/{{ .basicAuth.passwordSecret.key }}
{{- end }}
{{- if .caConfigMap.name }}
- name: KUBECHARGE_PROMETHEUS_CA_FILE
  value: /etc/kubecharge/prometheus-ca/{{ .caConfigMap.key }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "kubecharge.portalSelector" -}}
app.kubernetes.io/name: kubecharge-portal
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubecharge.portalLabels" -}}
{{ include "kubecharge.portalSelector" . }}
app.kubernetes.io/component: portal
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kubecharge.portalChecks" -}}
{{- if and (eq .Values.database.type "sqlite") (gt (int .Values.portal.replicas) 1) -}}
{{- fail "portal.replicas > 1 needs database.type=postgresql: on SQLite the portal shares the operator's volume" -}}
{{- end -}}
{{- if and .Values.portal.ingress.enabled (not .Values.portal.ingress.host) -}}
{{- fail "portal.ingress.enabled needs portal.ingress.host (the portal's address)" -}}
{{- end -}}
{{- end -}}


{{- define "kubecharge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kubecharge.name" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.create=false needs serviceAccount.name (an existing ServiceAccount)" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* What every kubecharge container takes from the values: extraEnv after its own, extraEnvFrom. */}}
{{- define "kubecharge.extraEnv" -}}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

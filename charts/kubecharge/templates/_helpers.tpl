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

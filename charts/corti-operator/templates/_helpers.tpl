{{/* The chart name, at most 63 characters. */}}
{{- define "corti-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of the release's objects, at most 63 characters. */}}
{{- define "corti-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "corti-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "corti-operator.labels" -}}
helm.sh/chart: {{ include "corti-operator.chart" . }}
{{ include "corti-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: corti-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the operator's Pods (never change them: a Deployment's selector is immutable). */}}
{{- define "corti-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "corti-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "corti-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "corti-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "corti-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when the operator must hold a Lease before it writes. */}}
{{- define "corti-operator.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicas) 1) }}true{{ else }}false{{ end }}
{{- end }}

{{- define "corti-operator.leaseName" -}}
{{- default (include "corti-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
What the operator does to Customers and CustomerUsers and around them in a namespace it
reconciles, besides reading them: finalizers (JSON patch on the resource), status (server-side
apply), Events, and reading Secrets by name (credentials and passwords; never list or watch).
*/}}
{{- define "corti-operator.writeRules" -}}
- apiGroups: ["admin.corti.app"]
  resources: ["customers", "customerusers"]
  verbs: ["patch"]
- apiGroups: ["admin.corti.app"]
  resources: ["customers/status", "customerusers/status"]
  verbs: ["get", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
# get: credentials and passwords are read by name, never listed or watched. patch: the finalizer
# admin.corti.app/credentials-in-use holds a credentials Secret while resources that act with it
# own remote objects, so a namespace deletion cannot take it before their remote deletes.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "patch"]
{{- end }}

{{/* Reading (and watching) the two kinds. */}}
{{- define "corti-operator.readRules" -}}
- apiGroups: ["admin.corti.app"]
  resources: ["customers", "customerusers"]
  verbs: ["get", "list", "watch"]
{{- end }}

{{/* Where the operator sends its Admin API calls: the chart's simulator when it is enabled. */}}
{{- define "corti-operator.adminApiUrl" -}}
{{- if .Values.simulator.enabled }}
{{- printf "http://%s.%s.svc:%d" (include "corti-operator.simulatorName" .) .Release.Namespace (int .Values.simulator.port) }}
{{- else }}
{{- .Values.adminApiUrl }}
{{- end }}
{{- end }}

{{/* The default credentials Secret: the one named in values, else the simulator's demo one. */}}
{{- define "corti-operator.defaultCredentialsSecretName" -}}
{{- if .Values.defaultCredentialsSecret.name }}
{{- .Values.defaultCredentialsSecret.name }}
{{- else if .Values.simulator.enabled }}
{{- include "corti-operator.simulatorName" . }}-credentials
{{- end }}
{{- end }}

{{- define "corti-operator.simulatorName" -}}
{{- printf "%s-simulator" (include "corti-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The simulator's Pods: another app name, so the operator's selector never matches them. */}}
{{- define "corti-operator.simulatorSelectorLabels" -}}
app.kubernetes.io/name: corti-admin-sim
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "corti-operator.simulatorImage" -}}
{{- if .Values.simulator.image.repository }}
{{- printf "%s:%s" .Values.simulator.image.repository (default .Chart.AppVersion .Values.simulator.image.tag) }}
{{- else }}
{{- include "corti-operator.image" . }}
{{- end }}
{{- end }}

{{- define "corti-operator.simulatorLabels" -}}
helm.sh/chart: {{ include "corti-operator.chart" . }}
{{ include "corti-operator.simulatorSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: simulator
app.kubernetes.io/part-of: corti-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

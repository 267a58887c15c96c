{{/* The release's full name, at most 63 characters (a DNS label). */}}
{{- define "carrier.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The QueueCluster's name: cluster.name or the full name. */}}
{{- define "carrier.clusterName" -}}
{{- default (include "carrier.fullname" .) .Values.cluster.name | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "carrier.operatorName" -}}
{{- printf "%s-operator" (include "carrier.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The image both run: repository@digest, or repository:tag. */}}
{{- define "carrier.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object the chart makes. */}}
{{- define "carrier.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: carrier
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The operator's pod labels (its Deployment's selector). */}}
{{- define "carrier.operatorSelector" -}}
app.kubernetes.io/name: carrier-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The cluster's pod labels, as the operator sets them (its selector). */}}
{{- define "carrier.clusterSelector" -}}
app.kubernetes.io/name: carrier
app.kubernetes.io/instance: {{ include "carrier.clusterName" . }}
{{- end -}}

{{/* The namespaces whose RBAC the operator gets: the watched ones. */}}
{{- define "carrier.watchNamespaces" -}}
{{- join "," .Values.operator.watchNamespaces -}}
{{- end -}}

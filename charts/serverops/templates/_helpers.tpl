{{/* The release's full name: the release name, with the chart name unless it has it. */}}
{{- define "serverops.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "serverops.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "serverops.labels" -}}
{{ include "serverops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "serverops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "serverops.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "serverops.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "serverops.webhookServiceName" -}}
{{- printf "%s-webhook" (include "serverops.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "serverops.webhookSecretName" -}}
{{- printf "%s-webhook-tls" (include "serverops.fullname" .) -}}
{{- end -}}

{{/* The arguments of `serverops run`: every namespace, or one -n per entry. */}}
{{- define "serverops.runArgs" -}}
{{- if .Values.operator.watch.allNamespaces -}}
- run
- --all-namespaces
{{- else -}}
- run
{{- range required "operator.watch.namespaces must list a namespace when operator.watch.allNamespaces is false" .Values.operator.watch.namespaces }}
- --namespace
- {{ . | quote }}
{{- end }}
{{- end -}}
{{- end -}}

{{/*
A namespaceSelector that limits the webhooks to the served namespaces. Empty when every
namespace is served, or when a namespace is a glob, which a label selector cannot match.
*/}}
{{- define "serverops.webhookNamespaceSelector" -}}
{{- if not .Values.operator.watch.allNamespaces -}}
{{- $exact := true -}}
{{- range .Values.operator.watch.namespaces -}}
{{- if regexMatch "[*?\\[\\]!]" . -}}{{- $exact = false -}}{{- end -}}
{{- end -}}
{{- if $exact -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: In
      values:
        {{- toYaml .Values.operator.watch.namespaces | nindent 8 }}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "serverops.approvalKeySecretName" -}}
{{- default (printf "%s-approval-key" (include "serverops.fullname" .)) .Values.approvalKey.existingSecret -}}
{{- end -}}

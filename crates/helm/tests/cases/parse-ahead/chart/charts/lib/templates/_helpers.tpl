{{- define "lib.greeting" -}}
{{ .Values.greeting | default "hi" }} from {{ .Chart.Name }}
{{- end -}}

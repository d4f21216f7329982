{{- define "lib.greet" -}}hello from lib to {{ .Chart.Name }}{{- end -}}

{{- define "nest.x" -}}{{ tpl "{{ $.v }}-{{ .v }}-{{ include \"nest.y\" . }}" . }}{{- end -}}
{{- define "nest.y" -}}y{{ .v }}{{- end -}}
{{- define "nest.name" -}}NAME{{- end -}}

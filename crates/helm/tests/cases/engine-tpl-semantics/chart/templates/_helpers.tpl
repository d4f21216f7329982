{{- define "tplsem.inner" -}}inner:{{ .Values.name }}:{{ .Template.Name }}{{- end -}}
{{- define "tplsem.usestpl" -}}{{ tpl .Values.greeting . }}{{- end -}}
{{- define "tplsem.dollar" -}}dollar={{ $.Values.name }} dot={{ .Values.name }}{{- end -}}
{{- define "tplsem.nest2" -}}{{ tpl "n2[{{ include \"tplsem.fromtpl2\" . }}]" . }}{{- end -}}

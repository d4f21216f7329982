{{ define "x" }}{{ tpl "{{ .Values.x.y }}" . }}{{ end }}

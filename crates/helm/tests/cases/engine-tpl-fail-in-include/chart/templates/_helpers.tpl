{{ define "x" }}{{ tpl "{{ fail \"boom\" }}" . }}{{ end }}

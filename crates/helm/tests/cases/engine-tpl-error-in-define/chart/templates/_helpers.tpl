{{ define "x" }}{{ tpl "{{ .a.b }}" (dict "a" 1) }}{{ end }}

{{ define "rec" }}{{ include "rec" . }}{{ end }}

{{ define "rec" }}{{ template "rec" . }}{{ end }}

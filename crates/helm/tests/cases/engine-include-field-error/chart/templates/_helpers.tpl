{{ define "x" }}{{ .Values.x.y }}{{ end }}

{{ define "x" }}{{ fail "boom" }}{{ end }}

module github.com/continuity-go/continuity

go 1.26.8

require (
	github.com/google/uuid v1.6.0
	github.com/gorilla/securecookie v1.1.2
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect

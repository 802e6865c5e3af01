module github.com/continuity-go/continuity

go 1.26.8

require (
	github.com/google/uuid v1.6.0
	github.com/gorilla/securecookie v1.1.2
)

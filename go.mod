module github.com/sectorflow/sdk

go 1.26.8

require (
	github.com/gomlx/gomlx v0.26.0 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sync v0.25.0 // indirect
)

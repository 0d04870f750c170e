module example.com/cryptoclient

go 1.19

// The versions the offline route builds with in CI (Debian 12's golang-google-grpc-dev,
// golang-google-protobuf-dev and golang-github-golang-protobuf-1-5-dev). `go mod tidy` adds
// the indirect requirements and go.sum.
require (
	github.com/golang/protobuf v1.5.2 // indirect
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)

#!/bin/sh
# Builds ./cryptoclient without the Go module proxy, from Debian's packages, in GOPATH mode:
#
#   sudo apt-get install golang-go golang-google-grpc-dev golang-google-protobuf-dev \
#     golang-github-golang-protobuf-1-5-dev protoc-gen-go protoc-gen-go-grpc protobuf-compiler
#   ./build-offline.sh [BUILD_DIR]        (default: ./build; writes BUILD_DIR/cryptoclient)
#
# The proto has no go_package: the M options give the generated package its import path.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/build}
mkdir -p "$build/src/example.com/cryptoclient"
build=$(cd "$build" && pwd)

cp "$here/main.go" "$build/src/example.com/cryptoclient/"
protoc -I "$here/../../proto" --go_out="$build/src" --go-grpc_out="$build/src" \
  --go_opt=Mcrypto_service.proto=example.com/cryptoclient/cryptopb \
  --go-grpc_opt=Mcrypto_service.proto=example.com/cryptoclient/cryptopb \
  crypto_service.proto
# /usr/share/gocode holds the Debian packages' sources; GOFLAGS is cleared because module
# flags such as -mod=mod are errors in GOPATH mode.
GOPATH="$build:/usr/share/gocode" GO111MODULE=off GOFLAGS= \
  go build -o "$build/cryptoclient" example.com/cryptoclient

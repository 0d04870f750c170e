// Command loadgen drives one unary gRPC method with pre-encoded request bodies, many different
// ones, for scripts/bench_writes.py: h2load sends one body for every request, and a Python load
// in the benchmark's own process takes a large share of the cores it shares with the server
// under test. This one costs little CPU, so the figures measure the server, not the load.
//
//	loadgen -addr 127.0.0.1:50051 -method /crypto.CryptoService/Transfer -bodies FILE
//	        [-c 50] [-duration 5] [-warmup 1] [-timeout 30s] [-latencies FILE]
//
// FILE holds the serialized request messages, each preceded by its length as 4 big-endian
// bytes. Each of the -c connections has one goroutine making one call at a time; goroutine i
// sends bodies i, i+c, i+2c, ... cyclically, so the connections spread over the list. Calls
// that start within the measured window (after -warmup, for -duration seconds) are counted,
// and a call that ends with a status other than OK counts as failed. It prints one JSON line:
//
//	{"calls": n, "failed": f, "seconds": s, "per_second": ok/s, "p50_ms": ..., "p99_ms": ...,
//	 "statuses": {"UNAVAILABLE": k, ...}}
//
// where statuses counts the failed calls by status, and with -latencies it writes each
// counted call's latency in milliseconds, one a line. It exits 1 when it cannot connect.
//
// No code is generated from the proto: the bodies are already encoded and the answers are
// not read, so a codec that passes bytes through is all it needs, and it builds in GOPATH
// mode from Debian's grpc-go (1.33) like examples/go/build-offline.sh, without protoc.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// rawCodec sends a []byte as the message and keeps the answer's bytes. It is forced on each
// call (grpc.ForceCodec) rather than registered as "proto", so nothing else in the process
// changes meaning; without CallContentSubtype the content-type stays application/grpc, which
// the server expects.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	switch m := v.(type) {
	case []byte:
		return m, nil
	case *[]byte:
		return *m, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	// Reuses the caller's buffer: the answers are only received, never kept.
	*p = append((*p)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "raw" }

type result struct {
	Calls     int            `json:"calls"`
	Failed    int            `json:"failed"`
	Seconds   float64        `json:"seconds"`
	PerSecond float64        `json:"per_second"`
	P50Ms     float64        `json:"p50_ms"`
	P99Ms     float64        `json:"p99_ms"`
	Statuses  map[string]int `json:"statuses"`
}

// caller is one connection's share of the counted calls; each goroutine has its own, so the
// calls take no lock, and they are merged at the end.
type caller struct {
	latencies []float64
	statuses  map[string]int
}

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "server host:port")
	method := flag.String("method", "/crypto.CryptoService/Transfer", "full method name")
	bodiesPath := flag.String("bodies", "", "file of length-prefixed request messages")
	connections := flag.Int("c", 50, "connections, one caller each")
	duration := flag.Float64("duration", 5, "measured seconds")
	warmup := flag.Float64("warmup", 1, "seconds of calls before the measured window")
	timeout := flag.Duration("timeout", 30*time.Second, "deadline of each call")
	latenciesPath := flag.String("latencies", "", "write each counted call's latency (ms) here")
	flag.Parse()

	bodies, err := readBodies(*bodiesPath)
	if err != nil {
		fail("bodies: %v", err)
	}
	if *connections < 1 || *duration <= 0 || *warmup < 0 {
		fail("-c must be at least 1, -duration above 0 and -warmup not negative")
	}
	conns, err := dial(*addr, *connections)
	if err != nil {
		fail("cannot connect to %s: %v", *addr, err)
	}
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()

	// The window is fixed before any call: calls beginning before start warm up the server
	// and the connections; calls beginning at or after end are not made.
	start := time.Now().Add(seconds(*warmup))
	end := start.Add(seconds(*duration))
	callers := make([]caller, len(conns))
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			callers[i] = call(conns[i], *method, bodies, i, len(conns), start, end, *timeout)
		}(i)
	}
	wg.Wait()

	out := result{Seconds: *duration, Statuses: map[string]int{}}
	var latencies []float64
	for _, c := range callers {
		latencies = append(latencies, c.latencies...)
		for name, n := range c.statuses {
			out.Statuses[name] += n
			out.Failed += n
		}
	}
	out.Calls = len(latencies)
	out.PerSecond = float64(out.Calls-out.Failed) / *duration
	if *latenciesPath != "" {
		if err := writeLatencies(*latenciesPath, latencies); err != nil {
			fail("latencies: %v", err)
		}
	}
	sort.Float64s(latencies)
	out.P50Ms, out.P99Ms = percentile(latencies, 0.5), percentile(latencies, 0.99)
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}

// call makes one call at a time on conn until end, body index i, i+step, ... cyclically.
func call(conn *grpc.ClientConn, method string, bodies [][]byte, i, step int,
	start, end time.Time, timeout time.Duration) caller {
	c := caller{statuses: map[string]int{}}
	var reply []byte
	for n := i; ; n += step {
		began := time.Now()
		if !began.Before(end) {
			return c
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := conn.Invoke(ctx, method, bodies[n%len(bodies)], &reply, grpc.ForceCodec(rawCodec{}))
		cancel()
		if began.Before(start) {
			continue
		}
		c.latencies = append(c.latencies, float64(time.Since(began))/float64(time.Millisecond))
		if err != nil {
			// status.Code gives UNKNOWN for an error that carries no status.
			c.statuses[statusName(status.Code(err).String())]++
		}
	}
}

// dial opens n connections and waits until each is ready, so that a server that is not there
// is an error now rather than n callers' worth of UNAVAILABLE in the figures.
func dial(addr string, n int) ([]*grpc.ClientConn, error) {
	conns := make([]*grpc.ClientConn, 0, n)
	for len(conns) < n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		// grpc.Dial and WithInsecure are what Debian's grpc-go 1.33 has (grpc.NewClient and
		// credentials/insecure came later). FailOnNonTempDialError with WithBlock makes a
		// refused connection fail at once; WithReturnConnectionError says why.
		// Fixed flow-control windows turn off grpc-go's bandwidth estimation, which pings the
		// server after answers and sends window updates: frames h2load does not send, that the
		// server under test would answer and this process would handle (about 1.4 writes and
		// 5.7 reads per call with it, 0.8 and 2.9 without, under strace).
		conn, err := grpc.DialContext(ctx, addr, grpc.WithInsecure(), grpc.WithBlock(),
			grpc.FailOnNonTempDialError(true), grpc.WithReturnConnectionError(),
			grpc.WithInitialWindowSize(1<<20), grpc.WithInitialConnWindowSize(1<<20))
		cancel()
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, conn)
	}
	return conns, nil
}

func readBodies(path string) ([][]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("-bodies is required")
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	reader := bufio.NewReader(file)
	var bodies [][]byte
	for {
		var size [4]byte
		if _, err := io.ReadFull(reader, size[:]); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("truncated length after %d bodies", len(bodies))
		}
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(reader, body); err != nil {
			return nil, fmt.Errorf("body %d is shorter than its length", len(bodies))
		}
		bodies = append(bodies, body)
	}
	if len(bodies) == 0 {
		return nil, fmt.Errorf("%s holds no bodies", path)
	}
	return bodies, nil
}

func writeLatencies(path string, latencies []float64) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	writer := bufio.NewWriter(file)
	for _, ms := range latencies {
		fmt.Fprintf(writer, "%.3f\n", ms)
	}
	if err := writer.Flush(); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// percentile of sorted values, picked the way scripts/bench_processes.py picks it.
func percentile(sorted []float64, fraction float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)) * fraction)
	if i > len(sorted)-1 {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// statusName turns grpc-go's code names (DeadlineExceeded) into the protocol's
// (DEADLINE_EXCEEDED), which is how grpclib and the project's docs name them.
func statusName(code string) string {
	var name strings.Builder
	for i, r := range code {
		if i > 0 && unicode.IsUpper(r) {
			name.WriteByte('_')
		}
		name.WriteRune(unicode.ToUpper(r))
	}
	return name.String()
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(1)
}

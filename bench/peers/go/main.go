// The Go peer: the seeds' net/http service with a constant /predict endpoint.
//
// It answers every request with the same JSON prediction, so it measures the cost of Go's HTTP
// stack alone: the ceiling a model server's transport is compared against (PERFORMANCE.md, P1).
// GOMAXPROCS is left at Go's default (the CPUs the process may run on, so a `taskset -c 0` pin
// gives it one).
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
)

var prediction = []byte(`{"prediction":"setosa","probabilities":[0.97,0.02,0.01]}`)

func predict(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(prediction)
}

func main() {
	port := flag.Int("port", 8081, "port to listen on (127.0.0.1 only)")
	flag.Parse()
	http.HandleFunc("/predict", predict)
	address := fmt.Sprintf("127.0.0.1:%d", *port)
	fmt.Fprintf(os.Stderr, "go peer serving /predict on http://%s (GOMAXPROCS=%d)\n", address, runtime.GOMAXPROCS(0))
	log.Fatal(http.ListenAndServe(address, nil))
}

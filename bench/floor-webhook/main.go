// A mutating webhook that does no work, in Go: `npm run bench:cluster` runs it beside
// podpattern to show what the API server measures for a webhook whose answer costs nothing
// and whose TLS handshakes run on every core (Go's net/http serves each connection on its
// own goroutine). Every AdmissionReview is allowed, with no patch.
//
//	floor-webhook CERT KEY HOST:PORT
//
// Prints the port it listens on (PORT 0 picks one), then serves until killed.
package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

type review struct {
	Request struct {
		UID string `json:"uid"`
	} `json:"request"`
}

func answer(w http.ResponseWriter, r *http.Request) {
	var in review
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20)).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"apiVersion": "admission.k8s.io/v1",
		"kind":       "AdmissionReview",
		"response":   map[string]any{"uid": in.Request.UID, "allowed": true},
	})
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: floor-webhook CERT KEY HOST:PORT")
		os.Exit(2)
	}
	listener, err := net.Listen("tcp", os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(listener.Addr().(*net.TCPAddr).Port)
	server := &http.Server{
		Handler:     http.HandlerFunc(answer),
		IdleTimeout: 120 * time.Second, // podpattern's keep-alive timeout
		// HTTP/1.1 only, as the API server asks of a webhook that is not on loopback.
		TLSConfig: &tls.Config{NextProtos: []string{"http/1.1"}},
	}
	fmt.Fprintln(os.Stderr, server.ServeTLS(listener, os.Args[1], os.Args[2]))
	os.Exit(1)
}

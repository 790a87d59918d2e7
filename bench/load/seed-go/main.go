// Command seed-go is the design Millrace replaces, rebuilt for side-by-side measurement: an HTTP
// server that accepts {"payloads": [...]}, hands every payload to a job queue through a goroutine
// of its own (the dispatcher pattern: nothing bounds the goroutines waiting for a worker), answers
// 202 at once, and has MAX_WORKERS workers (64) each PUT one payload per object to S3 with the
// AWS SDK for Go. GET /stats reports payloads accepted and stored.
//
// Environment: SEED_PORT (18090), MAX_WORKERS (64), S3_ENDPOINT, S3_BUCKET (millrace),
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/s3"
)

type job struct {
	id      string
	at      time.Time
	payload []byte
}

var (
	accepted int64
	stored   int64
	failed   int64
	seq      int64
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	workers, _ := strconv.Atoi(env("MAX_WORKERS", "64"))
	bucket := env("S3_BUCKET", "millrace")
	sess := session.Must(session.NewSession(&aws.Config{
		Endpoint:         aws.String(env("S3_ENDPOINT", "http://127.0.0.1:9000")),
		Region:           aws.String("us-east-1"),
		S3ForcePathStyle: aws.Bool(true),
		Credentials: credentials.NewStaticCredentials(
			os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		HTTPClient: &http.Client{Transport: &http.Transport{
			MaxIdleConns: workers * 2, MaxIdleConnsPerHost: workers * 2}},
	}))
	client := s3.New(sess)
	jobs := make(chan job) // unbuffered, as in the original: senders wait in goroutines
	for w := 0; w < workers; w++ {
		go func() {
			for j := range jobs {
				key := fmt.Sprintf("payloads/dt=%s/hour=%s/%s.json",
					j.at.UTC().Format("2006-01-02"), j.at.UTC().Format("15"), j.id)
				_, err := client.PutObject(&s3.PutObjectInput{
					Bucket:      aws.String(bucket),
					Key:         aws.String(key),
					Body:        bytes.NewReader(j.payload),
					ContentType: aws.String("application/json"),
				})
				if err != nil {
					atomic.AddInt64(&failed, 1)
					continue
				}
				atomic.AddInt64(&stored, 1)
			}
		}()
	}
	http.HandleFunc("/v1/payloads", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Payloads []json.RawMessage `json:"payloads"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Payloads == nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		now := time.Now()
		for _, p := range body.Payloads {
			j := job{id: fmt.Sprintf("seed-%012x", atomic.AddInt64(&seq, 1)), at: now,
				payload: []byte(p)}
			go func() { jobs <- j }() // the dispatcher: one goroutine per job waiting for a worker
		}
		atomic.AddInt64(&accepted, int64(len(body.Payloads)))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "{\"accepted\":%d}", len(body.Payloads))
	})
	http.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "accepted %d\nstored %d\nfailed %d\n",
			atomic.LoadInt64(&accepted), atomic.LoadInt64(&stored), atomic.LoadInt64(&failed))
	})
	addr := "127.0.0.1:" + env("SEED_PORT", "18090")
	log.Printf("seed-go listening on %s, %d workers", addr, workers)
	log.Fatal(http.ListenAndServe(addr, nil))
}

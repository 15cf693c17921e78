package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/sectorflow/sdk/sectorflow/server"
)

// Serve the tiny test model on loopback and call it over plain HTTP; any OpenAI client works
// the same way against the /v1 base URL.
func Example() {
	ctx := context.Background()
	keys, err := server.ParseKeys(strings.NewReader("sk-example-key-1 acme\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := server.New(ctx, "../../testdata/models/llama", &server.Options{Keys: keys})
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	serveCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, ln) }()
	defer func() { stop(); <-done }()

	get := func(path, key string) {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if e, ok := body["error"].(map[string]any); ok {
			fmt.Println(resp.StatusCode, e["code"])
			return
		}
		for _, m := range body["data"].([]any) {
			fmt.Println(resp.StatusCode, m.(map[string]any)["id"])
		}
	}
	get("/v1/models", "sk-example-key-1")
	get("/v1/models", "sk-wrong-key-99")
	get("/v1/files/file-0123456789abcdef", "sk-example-key-1")
	// Output:
	// 200 llama
	// 401 invalid_api_key
	// 404 file_not_found
}

func ExampleParseKeys() {
	keys, err := server.ParseKeys(strings.NewReader(`# API-KEY TENANT [admin]
sk-acme-0123456789 acme
sk-ops-0123456789 ops admin
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, ok := keys.Lookup("sk-ops-0123456789")
	fmt.Println(p.Tenant, p.Admin, ok)
	_, err = server.ParseKeys(strings.NewReader("sk-acme-0123456789 Acme Corp\n"))
	fmt.Println(err)
	// Output:
	// ops true true
	// invalid keys file: line 1: expected "admin" or nothing after the tenant, found "Corp"
}

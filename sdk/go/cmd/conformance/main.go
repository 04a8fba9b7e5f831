// Command conformance runs the shared conformance scenarios (see
// tests/conformance/README.md in the repository) against a Workpool server
// with the Go SDK, or plays one role of the cross-language flows.
//
//	conformance --server 127.0.0.1:PORT --scenarios tests/conformance/scenarios [--only NAME]
//	conformance --server ADDR --role enqueue|worker|watch --pool P --count N [--after S]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
)

func main() {
	server := flag.String("server", "", "server address, such as 127.0.0.1:50051 (required)")
	scenarios := flag.String("scenarios", "", "folder of the scenario *.json files")
	only := flag.String("only", "", "run only the scenario with this name")
	role := flag.String("role", "", "cross-language role: enqueue, worker or watch")
	pool := flag.String("pool", "", "pool of the role")
	count := flag.Int("count", 0, "number of items of the role")
	after := flag.Int64("after", 0, "sequence the watch role starts after")
	flag.Parse()

	// Standard output carries results only; logs go to standard error.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

	if *server == "" {
		fail("--server is required, such as --server 127.0.0.1:50051")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *role != "" {
		if *pool == "" || *count < 1 {
			fail("--role needs --pool and a --count of 1 or more")
		}
		if err := runRole(ctx, *server, *role, *pool, *count, *after); err != nil {
			fail(err.Error())
		}
		return
	}
	if *scenarios == "" {
		fail("--scenarios is required, such as --scenarios tests/conformance/scenarios")
	}
	os.Exit(runScenarios(ctx, *server, *scenarios, *only))
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "conformance:", message)
	os.Exit(2)
}

func runScenarios(ctx context.Context, server, folder, only string) int {
	files, err := filepath.Glob(filepath.Join(folder, "*.json"))
	if err != nil || len(files) == 0 {
		fail(fmt.Sprintf("no *.json scenario files in %s", folder))
	}
	sort.Strings(files)

	passed, failed := 0, 0
	found := false
	for _, file := range files {
		scenario, err := loadScenario(file)
		name := filepath.Base(file)
		if err == nil {
			name = scenario.Name
		}
		if only != "" && name != only {
			continue
		}
		found = true
		if err == nil {
			err = runScenario(ctx, server, scenario)
		}
		if err != nil {
			failed++
			fmt.Printf("FAIL %s: %v\n", name, err)
		} else {
			passed++
			fmt.Printf("PASS %s\n", name)
		}
	}
	if only != "" && !found {
		fmt.Fprintf(os.Stderr, "conformance: no scenario named %q in %s\n", only, folder)
		failed++
	}
	fmt.Printf("go: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

func loadScenario(file string) (*scenario, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var s scenario
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("invalid scenario file %s: %w", file, err)
	}
	if s.Name == "" {
		return nil, fmt.Errorf("scenario file %s has no name", file)
	}
	return &s, nil
}

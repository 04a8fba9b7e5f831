// Package testserver starts a real Workpool server for the SDK's tests: a
// child process on a free loopback port with a fresh SQLite file, a 2 s
// lease and 500 ms heartbeats.
//
// The command is WORKPOOL_COMMAND when set (split on spaces, such as
// "/repo/.venv/bin/workpool"), or else the repository's .venv/bin/workpool.
// Tests skip with a message when neither exists.
package testserver

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running server process.
type Server struct {
	// Addr is the server's gRPC address, "127.0.0.1:PORT".
	Addr     string
	command  []string
	database string
	t        testing.TB

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

// Command returns the server command, or a reason why there is none.
func Command() ([]string, string) {
	if value := strings.TrimSpace(os.Getenv("WORKPOOL_COMMAND")); value != "" {
		fields := strings.Fields(value)
		if _, err := exec.LookPath(fields[0]); err != nil {
			return nil, fmt.Sprintf("WORKPOOL_COMMAND is %q, but %s is not an executable: %v", value, fields[0], err)
		}
		return fields, ""
	}
	_, file, _, _ := runtime.Caller(0)
	// This file is sdk/go/internal/testserver/testserver.go in the repository.
	root := filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
	venv := filepath.Clean(filepath.Join(root, ".venv", "bin", "workpool"))
	if _, err := os.Stat(venv); err != nil {
		return nil, fmt.Sprintf("no Workpool server to test against: set WORKPOOL_COMMAND to the workpool command, or create %s (pip install -e . in the repository root)", venv)
	}
	return []string{venv}, ""
}

// Start starts a server and stops it when the test ends. It skips the test
// when there is no server command.
func Start(t testing.TB) *Server {
	t.Helper()
	command, reason := Command()
	if command == nil {
		t.Skip(reason)
	}
	s := &Server{
		Addr:     "127.0.0.1:" + freePort(t),
		command:  command,
		database: filepath.Join(t.TempDir(), "workpool.db"),
		t:        t,
	}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	args := append(append([]string(nil), s.command[1:]...), "serve",
		"--database-url", "sqlite:///"+s.database,
		"--listen", s.Addr,
		"--http-listen", "",
		"--lease-duration", "2s",
		"--heartbeat-interval", "500ms",
		"--shutdown-grace", "2s",
	)
	cmd := exec.Command(s.command[0], args...)
	logs := &bytes.Buffer{}
	cmd.Stdout = logs
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.command[0], err)
	}
	s.mu.Lock()
	s.cmd, s.logs = cmd, logs
	s.mu.Unlock()

	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	s.t.Fatalf("server did not listen on %s within 20 s; its output:\n%s", s.Addr, logs.String())
}

// Stop ends the server with SIGTERM, as an operator would, and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	if s.t.Failed() {
		s.t.Logf("server output:\n%s", s.logs.String())
	}
}

// Restart stops the server and starts it again on the same port and
// database.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

func freePort(t testing.TB) string {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer listener.Close()
	return fmt.Sprint(listener.Addr().(*net.TCPAddr).Port)
}

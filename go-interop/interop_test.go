// Package interop runs the official Go client (rocketmq-client-go v2)
// against a real ferromq started in standalone mode.
package interop

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

func init() {
	if os.Getenv("GO_INTEROP_DEBUG") != "" {
		rlog.SetLogLevel("debug")
	} else {
		rlog.SetLogLevel("warn")
	}
}

// server is a ferromq standalone process (name server + broker).
type server struct {
	cmd      *exec.Cmd
	namesrv  string
	exited   chan struct{}
	exitOnce sync.Once
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// brokerPort is a free port whose neighbours (fast port -2, HA port +1)
// are free too.
func brokerPort(t *testing.T) int {
	for {
		p := freePort(t)
		if p > 1026 && portFree(p-2) && portFree(p+1) {
			return p
		}
	}
}

func startServer(t *testing.T) *server {
	t.Helper()
	return startServerWith(t, "")
}

// startServerWith starts ferromq with extra broker.conf lines.
func startServerWith(t *testing.T, extra string) *server {
	t.Helper()
	bin := os.Getenv("FERROMQ_BIN")
	if bin == "" {
		bin = filepath.Join("..", "target", "release", "ferromq")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("ferromq binary not found at %s (set FERROMQ_BIN): %v", bin, err)
	}
	dir := t.TempDir()
	port := brokerPort(t)
	nsPort := freePort(t)
	conf := filepath.Join(dir, "broker.conf")
	text := fmt.Sprintf("brokerName=broker-a\nbrokerIP1=127.0.0.1\nlistenPort=%d\nstorePathRootDir=%s\n%s\n", port, filepath.Join(dir, "store"), extra)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "standalone", "-c", conf, "--namesrv-port", fmt.Sprint(nsPort))
	cmd.Env = append(os.Environ(), "RUST_LOG="+envOr("FERROMQ_LOG", "warn"))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, namesrv: fmt.Sprintf("127.0.0.1:%d", nsPort), exited: make(chan struct{})}
	booted := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "The broker[") && strings.Contains(line, "boot success") {
				once.Do(func() { close(booted) })
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(s.stop)
	select {
	case <-booted:
	case <-s.exited:
		t.Fatal("ferromq exited before booting")
	case <-time.After(30 * time.Second):
		t.Fatal("ferromq did not boot within 30 s")
	}
	return s
}

// stop sends SIGTERM and waits (bounded), then kills.
func (s *server) stop() {
	s.exitOnce.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// A Go producer sends TagA and TagB messages to a new topic (auto-created
// by the first send); a Go push consumer started right after, subscribed to
// TagA, receives exactly the TagA messages, each once.
func TestGoClientTagFilter(t *testing.T) {
	s := startServer(t)
	ns := []string{s.namesrv}
	suffix := time.Now().UnixNano()
	topic := fmt.Sprintf("GoInteropTopic_%d", suffix)
	const n = 20

	p, err := rocketmq.NewProducer(
		producer.WithNameServer(ns),
		producer.WithGroupName(fmt.Sprintf("GoInteropProducer_%d", suffix)),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(10*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()

	want := map[string]bool{}
	for i := 0; i < n; i++ {
		tag := "TagA"
		if i%2 == 1 {
			tag = "TagB"
		}
		body := fmt.Sprintf("%s-%d", tag, i)
		msg := primitive.NewMessage(topic, []byte(body)).WithTag(tag).WithKeys([]string{body})
		res, err := p.SendSync(context.Background(), msg)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if res.Status != primitive.SendOK {
			t.Fatalf("send %d: status %v", i, res.Status)
		}
		if tag == "TagA" {
			want[body] = true
		}
	}

	var mu sync.Mutex
	got := map[string]int{}
	var wrongTag []string
	done := make(chan struct{})
	var doneOnce sync.Once
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNameServer(ns),
		consumer.WithGroupName(fmt.Sprintf("GoInteropConsumer_%d", suffix)),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				body := string(m.Body)
				if m.GetTags() != "TagA" || !want[body] {
					wrongTag = append(wrongTag, fmt.Sprintf("%s (tag %q)", body, m.GetTags()))
					continue
				}
				got[body]++
			}
			if len(got) == len(want) {
				doneOnce.Do(func() { close(done) })
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()

	select {
	case <-done:
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("received %d of %d TagA messages within 60 s: %v", len(got), len(want), got)
	}
	// Give duplicates or wrongly filtered messages a moment to show up.
	time.Sleep(2 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(wrongTag) > 0 {
		t.Errorf("received messages the TagA subscription must not get: %v", wrongTag)
	}
	for body, count := range got {
		if count != 1 {
			t.Errorf("%s received %d times", body, count)
		}
	}
}

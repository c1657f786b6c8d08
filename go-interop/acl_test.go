package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// With aclEnable=true the Go client signing with its Credentials sends and
// consumes; a wrong secret is refused with the Java broker's AclException text.
func TestGoClientWithAcl(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	suffix := time.Now().UnixNano()
	topic := fmt.Sprintf("GoAclTopic_%d", suffix)
	yaml := fmt.Sprintf("accounts:\n  - accessKey: goUser01\n    secretKey: goSecret01\n    defaultTopicPerm: DENY\n    defaultGroupPerm: SUB\n    topicPerms: [%s=PUB|SUB]\n", topic)
	if err := os.WriteFile(filepath.Join(home, "conf", "plain_acl.yml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServerWith(t, "aclEnable=true\nrocketmqHome="+home)
	ns := []string{s.namesrv}

	newProducer := func(secret string) rocketmq.Producer {
		p, err := rocketmq.NewProducer(
			producer.WithNameServer(ns),
			producer.WithGroupName(fmt.Sprintf("GoAclProducer_%d_%s", suffix, secret)),
			producer.WithRetry(0),
			// Go clients with one instance name share one connection and its credentials.
			producer.WithInstanceName(fmt.Sprintf("GoAclProducer_%d_%s", suffix, secret)),
			producer.WithSendMsgTimeout(10*time.Second),
			producer.WithCredentials(primitive.Credentials{AccessKey: "goUser01", SecretKey: secret}),
		)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Shutdown() })
		return p
	}

	bad := newProducer("wrongSecret")
	if _, err := bad.SendSync(context.Background(), primitive.NewMessage(topic, []byte("x"))); err == nil ||
		!strings.Contains(err.Error(), "Check signature failed for accessKey=goUser01") {
		t.Fatalf("a wrong secret should be refused with the AclException text, got %v", err)
	}

	p := newProducer("goSecret01")
	const n = 10
	for i := 0; i < n; i++ {
		res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(fmt.Sprint("acl-", i))))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if res.Status != primitive.SendOK {
			t.Fatalf("send %d: status %v", i, res.Status)
		}
	}

	var mu sync.Mutex
	got := map[string]bool{}
	done := make(chan struct{})
	var once sync.Once
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNameServer(ns),
		consumer.WithGroupName(fmt.Sprintf("GoAclConsumer_%d", suffix)),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithInstance(fmt.Sprintf("GoAclConsumer_%d", suffix)),
		consumer.WithCredentials(primitive.Credentials{AccessKey: "goUser01", SecretKey: "goSecret01"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			got[string(m.Body)] = true
		}
		if len(got) == n {
			once.Do(func() { close(done) })
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
		t.Fatalf("consumed %d of %d messages within 60 s", len(got), n)
	}
}

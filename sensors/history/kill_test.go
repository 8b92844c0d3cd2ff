package history

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xiot/xiot/sensors"
)

// childEnv names the store a child process writes to until killed.
const childEnv = "XIOT_HISTORY_KILL_CHILD"

// killBatch is how many samples each Append of the child writes.
const killBatch = 7

// TestKillDuringWrites runs a child process (this test binary again) that
// appends batches as fast as it can and prints "ack N" after each Append
// that returned, and kills it with SIGKILL in the middle of its writes.
// The store must then open and hold every acknowledged sample.
func TestKillDuringWrites(t *testing.T) {
	if path := os.Getenv(childEnv); path != "" {
		writeUntilKilled(path)
		return
	}
	path := filepath.Join(t.TempDir(), "h.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringWrites$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill after a number of acks that varies from run to run, so the
	// kill lands at different points of a transaction.
	killAt := 150 + time.Now().Nanosecond()%100
	acked := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		if acked, err = strconv.Atoi(n); err != nil {
			t.Fatalf("child said %q", sc.Text())
		}
		if acked >= killAt {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Count acks already in the pipe: they too were acknowledged.
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				acked = v
			}
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	if acked < killAt {
		t.Fatalf("child acknowledged only %d appends", acked)
	}

	s, err := Open(path, Options{Location: time.UTC, Timeout: time.Second})
	if err != nil {
		t.Fatalf("store does not open after kill -9: %v", err)
	}
	defer s.Close()
	got, err := s.Query(context.Background(), nil, nil, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// Every acknowledged sample is there; the batch in flight is either
	// entirely there or entirely absent.
	if len(got) != acked*killBatch && len(got) != (acked+1)*killBatch {
		t.Fatalf("store has %d samples after %d acknowledged appends of %d", len(got), acked, killBatch)
	}
	for i, f := range got[:acked*killBatch] {
		if v, _ := f.Value.Float(); v != float64(i) || !f.Timestamp.Equal(t0.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("sample %d is %v", i, f)
		}
	}
	st, err := s.Stats()
	if err != nil || st.Samples != int64(len(got)) {
		t.Errorf("Stats %+v, %v after recovery; %d samples", st, err, len(got))
	}
	t.Logf("killed after %d acknowledged appends; %d samples on disk", acked, len(got))
}

// writeUntilKilled is the child: it appends and acknowledges until killed
// (or 60 s pass, so that it never outlives a crashed parent for long).
func writeUntilKilled(path string) {
	s, err := Open(path, Options{Location: time.UTC})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	deadline := time.Now().Add(60 * time.Second)
	i := 0
	for n := 1; time.Now().Before(deadline); n++ {
		batch := make([]sensors.Field, killBatch)
		for j := range batch {
			batch[j] = sample("n", "T", float64(i), t0.Add(time.Duration(i)*time.Millisecond))
			i++
		}
		if err := s.Append(batch); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("ack %d\n", n)
	}
	os.Exit(3)
}

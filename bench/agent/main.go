// Command agent measures the foundation figures of the xiot agent side by
// side in one run: the resident memory of an idle agent after login, and
// the XEP-0199 ping round trip to the agent through Prosody next to a ping
// of the server itself (the part of the round trip that is not the agent).
//
// Usage: go run ./bench/agent -bin bin/xiot [-pings 500]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
)

func main() {
	bin := flag.String("bin", "bin/xiot", "xiot binary to measure")
	pings := flag.Int("pings", 500, "pings per target")
	idle := flag.Duration("idle", 5*time.Second, "idle time before reading the agent's memory")
	flag.Parse()
	if err := run(*bin, *pings, *idle); err != nil {
		fmt.Fprintln(os.Stderr, "bench/agent:", err)
		os.Exit(1)
	}
}

func run(bin string, pings int, idle time.Duration) error {
	ctx := context.Background()
	p, err := testserver.Start(ctx, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	if err != nil {
		return err
	}
	defer p.Close()
	dir, err := os.MkdirTemp("", "xiot-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, u := range []string{"device", "client"} {
		if err := p.Register(u, u+"-bench-pass"); err != nil {
			return err
		}
	}
	passFile := filepath.Join(dir, "device.pass")
	if err := os.WriteFile(passFile, []byte("device-bench-pass"), 0o600); err != nil {
		return err
	}
	agent := exec.Command(bin, "agent", "--board", "sim", "--jid", "device@localhost/bench",
		"--password-file", passFile, "--server", p.C2SAddr, "--ca-file", p.CAFile)
	logs, err := agent.StderrPipe()
	if err != nil {
		return err
	}
	if err := agent.Start(); err != nil {
		return err
	}
	defer func() { _ = agent.Process.Signal(os.Interrupt); _ = agent.Wait() }()
	online := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(logs)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "agent online") {
				once = true
				close(online)
			}
		}
	}()
	select {
	case <-online:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the agent did not come online in 30 s")
	}

	cli := xmpp.New(xmpp.Config{
		JID: jid.MustParse("client@localhost/bench"), Password: "client-bench-pass",
		Server: p.C2SAddr, TLS: p.TLSConfig(), Keepalive: -1,
	}, nil)
	if err := cli.Connect(ctx); err != nil {
		return err
	}
	defer cli.Close()

	// Warm up both paths, then alternate so that both see the same load.
	agentRTT := make([]time.Duration, 0, pings)
	serverRTT := make([]time.Duration, 0, pings)
	for i := 0; i < 20; i++ {
		_, _ = xmpp.Ping(ctx, cli, "device@localhost/bench")
		_, _ = xmpp.Ping(ctx, cli, "localhost")
	}
	for i := 0; i < pings; i++ {
		d, err := xmpp.Ping(ctx, cli, "device@localhost/bench")
		if err != nil {
			return fmt.Errorf("ping agent: %w", err)
		}
		agentRTT = append(agentRTT, d)
		d, err = xmpp.Ping(ctx, cli, "localhost")
		if err != nil {
			return fmt.Errorf("ping server: %w", err)
		}
		serverRTT = append(serverRTT, d)
	}

	time.Sleep(idle)
	rss, err := rssKiB(agent.Process.Pid)
	if err != nil {
		return err
	}
	size, err := os.Stat(bin)
	if err != nil {
		return err
	}

	fmt.Printf("xiot agent (sim board) after login, %d pings each, alternating:\n", pings)
	fmt.Printf("  %-38s %10s %10s %10s\n", "", "p50", "p90", "p99")
	a50, a90, a99 := pct(agentRTT)
	s50, s90, s99 := pct(serverRTT)
	fmt.Printf("  %-38s %10v %10v %10v\n", "ping agent through Prosody", a50, a90, a99)
	fmt.Printf("  %-38s %10v %10v %10v\n", "ping Prosody itself (same client)", s50, s90, s99)
	fmt.Printf("  %-38s %10.2f %10.2f %10.2f\n", "ratio agent/server", ratio(a50, s50), ratio(a90, s90), ratio(a99, s99))
	fmt.Printf("  agent RSS after %v idle: %.1f MiB (goal <= 15 MiB)\n", idle, float64(rss)/1024)
	fmt.Printf("  binary measured: %s, %.1f MiB\n", bin, float64(size.Size())/(1<<20))
	return nil
}

func pct(d []time.Duration) (p50, p90, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[int(q*float64(len(s)-1))].Round(time.Microsecond) }
	return at(0.5), at(0.9), at(0.99)
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// rssKiB reads VmRSS of a process from /proc.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

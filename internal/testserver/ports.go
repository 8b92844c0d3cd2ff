package testserver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a moment
// ago. All listeners are held until every port is chosen so that the ports
// differ. They are taken below the kernel's ephemeral range where it can be
// read, so that no outgoing connection of another test is given one of them
// as its local port before the server binds it (which a server cannot bind
// and a client cannot dial); another test picking the same port remains
// possible, and startFresh then starts over with new ones.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	low := ephemeralLow()
	for range n {
		var ln net.Listener
		var err error
		// below the ephemeral range: random ports, a few tries each
		for try := 0; low > minPort+n && try < 50; try++ {
			port := minPort + rand.IntN(low-minPort)
			if ln, err = net.Listen("tcp", loopbackAddr(port)); err == nil {
				break
			}
		}
		if ln == nil {
			if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				return nil, fmt.Errorf("pick a free port on 127.0.0.1: %w", err)
			}
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// minPort is the lowest port freePorts picks.
const minPort = 10000

// ephemeralLow returns the first port of the kernel's ephemeral range
// (Linux), or 0 when it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low > 65535 {
		return 0
	}
	return low
}

// loopbackAddr formats a 127.0.0.1 address with the given port.
func loopbackAddr(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// dialOnce reports whether a TCP connection to addr succeeds right now.
func dialOnce(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

//go:build !xiot_small

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/xiot/xiot/internal/exigw"
	"github.com/xiot/xiot/internal/metrics"
)

const exigwUsage = `Usage: xiot exigw --upstream HOST:PORT [flags]

Runs an EXI gateway (XEP-0322) in front of a stock XMPP server. Devices
connect either to --listen, where they start in XML and switch to EXI
after authentication (XEP-0138 compression method "exi"), or to
--alt-listen, where EXI starts at the first byte (alternative binding).
For each device the gateway opens a STARTTLS connection to --upstream,
verifying its certificate, and relays the stanzas; SASL passes through,
so the server authenticates the device and the gateway holds no
passwords. With --cert and --key the gateway offers STARTTLS to devices
with that certificate (required then). Devices may upload schemas the
gateway lacks (XEP-0322 uploadSchema) or, with --download-schemas, have it
download them from the listed locations only.

Counters (bytes per side, compression ratio, connections) are logged
every --stats interval.

Examples:
  xiot exigw --upstream xmpp.example.org:5222 --cert gw.crt --key gw.key
  xiot exigw --upstream 127.0.0.1:5222 --ca server.pem --listen :5232 --alt-listen :15222
`

// runEXIGW implements "xiot exigw".
func runEXIGW(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("exigw", exigwUsage)
	upstream := fs.String("upstream", "", "XMPP server client port, host:port (STARTTLS)")
	listen := fs.String("listen", ":5232", "address for devices using negotiated EXI (empty: off)")
	altListen := fs.String("alt-listen", ":15222", "address for the EXI alternative binding (empty: off)")
	certFile := fs.String("cert", "", "PEM certificate the gateway presents to devices")
	keyFile := fs.String("key", "", "PEM key of --cert")
	caFile := fs.String("ca", "", "PEM file of CAs trusted for the upstream server (default: system roots)")
	serverName := fs.String("server-name", "", "name expected in the upstream certificate (default: the domain devices ask for)")
	maxStanza := fs.Int64("max-stanza", 256<<10, "largest element accepted from a device, in bytes")
	maxConns := fs.Int("max-conns", 1000, "concurrent device connections")
	idle := fs.Duration("idle", 5*time.Minute, "close a device connection silent for this long")
	statsEvery := fs.Duration("stats", time.Minute, "interval of the counters in the log (0: never)")
	verbose := fs.Bool("verbose", false, "log every connection")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics on `host:port`")
	noSWB := fs.Bool("no-session-wide-buffers", false, "refuse XEP-0322 sessionWideBuffers (string tables kept for the whole stream) when devices propose it")
	download := fs.String("download-schemas", "", "comma-separated http(s) URL `prefixes` from which devices may have the gateway download schemas (XEP-0322 downloadSchema); empty refuses downloads")
	downloadTimeout := fs.Duration("download-timeout", 10*time.Second, "time limit of one schema download")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef(fs, "unexpected arguments %q", fs.Args())
	}
	if *upstream == "" {
		return usagef(fs, "--upstream is required")
	}
	if *listen == "" && *altListen == "" {
		return usagef(fs, "nothing to listen on: give --listen or --alt-listen")
	}
	if (*certFile == "") != (*keyFile == "") {
		return usagef(fs, "--cert and --key go together")
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg := exigw.Config{Upstream: *upstream, MaxStanzaBytes: *maxStanza, MaxConns: *maxConns, IdleTimeout: *idle, Logger: log, NoSessionWideBuffers: *noSWB,
		DownloadTimeout: *downloadTimeout}
	for _, p := range strings.Split(*download, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.DownloadSchemas = append(cfg.DownloadSchemas, p)
		}
	}
	cfg.UpstreamTLS = &tls.Config{ServerName: *serverName}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return fmt.Errorf("exigw: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("exigw: %s holds no PEM certificate", *caFile)
		}
		cfg.UpstreamTLS.RootCAs = pool
	}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("exigw: device certificate: %w", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	} else {
		log.Warn("no --cert: devices get no TLS from the gateway; use only on a trusted link")
	}
	type listener struct {
		ln    net.Listener
		alt   bool
		label string
	}
	var lns []listener
	defer func() {
		for _, l := range lns {
			l.ln.Close()
		}
	}()
	for _, l := range []struct {
		addr  string
		alt   bool
		label string
	}{{*listen, false, "negotiated"}, {*altListen, true, "alternative binding"}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("exigw: listen %s: %w", l.addr, err)
		}
		lns = append(lns, listener{ln, l.alt, l.label})
		if a, ok := ln.Addr().(*net.TCPAddr); ok && l.alt {
			cfg.AltPort = a.Port // offered to negotiating devices as exi:PORT
		}
	}
	g, err := exigw.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if *metricsAddr != "" {
		m := metrics.New(nil, nil)
		stat := func(name string, f func(exigw.Stats) float64) {
			m.Func(name, func() float64 { return f(g.Stats()) })
		}
		stat(metrics.Label("xiot_exigw_bytes_total", "side", "device", "direction", "in"), func(s exigw.Stats) float64 { return float64(s.DeviceBytesIn) })
		stat(metrics.Label("xiot_exigw_bytes_total", "side", "device", "direction", "out"), func(s exigw.Stats) float64 { return float64(s.DeviceBytesOut) })
		stat(metrics.Label("xiot_exigw_bytes_total", "side", "upstream", "direction", "in"), func(s exigw.Stats) float64 { return float64(s.UpstreamBytesIn) })
		stat(metrics.Label("xiot_exigw_bytes_total", "side", "upstream", "direction", "out"), func(s exigw.Stats) float64 { return float64(s.UpstreamBytesOut) })
		stat("xiot_exigw_compression_ratio", func(s exigw.Stats) float64 { return s.Ratio })
		stat("xiot_exigw_connections", func(s exigw.Stats) float64 { return float64(s.Active) })
		stat("xiot_exigw_connections_total", func(s exigw.Stats) float64 { return float64(s.Total) })
		stat("xiot_exigw_connections_failed_total", func(s exigw.Stats) float64 { return float64(s.Failed) })
		stat("xiot_exigw_exi_streams_total", func(s exigw.Stats) float64 { return float64(s.EXIStreams) })
		addr, err := m.Serve(ctx, *metricsAddr)
		if err != nil {
			return err
		}
		log.Info("metrics endpoint", "url", "http://"+addr.String()+"/metrics")
	}
	errc := make(chan error, 2)
	serving := 0
	for _, l := range lns {
		log.Info("EXI gateway listening", "form", l.label, "addr", l.ln.Addr().String(), "upstream", *upstream)
		serving++
		go func() {
			if l.alt {
				errc <- g.ServeAlternative(ctx, l.ln)
			} else {
				errc <- g.ServeNegotiated(ctx, l.ln)
			}
		}()
	}
	var tick <-chan time.Time
	if *statsEvery > 0 {
		t := time.NewTicker(*statsEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			logStats(log, g.Stats())
		case err := <-errc:
			serving--
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				if serving == 0 {
					logStats(log, g.Stats())
					return nil
				}
				continue
			}
			cancel()
			return err
		}
	}
}

func logStats(log *slog.Logger, s exigw.Stats) {
	log.Info("EXI gateway counters", "connections", s.Active, "total", s.Total, "failed", s.Failed, "exi_streams", s.EXIStreams,
		"device_in", s.DeviceBytesIn, "device_out", s.DeviceBytesOut, "upstream_in", s.UpstreamBytesIn, "upstream_out", s.UpstreamBytesOut,
		"ratio", fmt.Sprintf("%.3f", s.Ratio))
}

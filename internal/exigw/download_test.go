package exigw

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xiot/xiot/exi/xmppschema"
	"github.com/xiot/xiot/internal/xmpp"
)

const vendorXSD = `<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema' targetNamespace='urn:example:vendor' elementFormDefault='qualified'><xs:element name='reading' type='xs:double'/></xs:schema>`

// schemaServer publishes vendorXSD under /xsd/ and misbehaves elsewhere.
func schemaServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/xsd/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".xsd") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write([]byte(vendorXSD))
	})
	mux.HandleFunc("/xsd/page.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<html></html>"))
	})
	mux.HandleFunc("/xsd/slow.xsd", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/xsd/huge.xsd", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		chunk := []byte(strings.Repeat("<!-- padding -->", 4096))
		for range 100 { // 6.5 MB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/xsd/away.xsd", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/private/secret.xsd", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// Every answer of XEP-0322 §"Downloading new schema files on server".
func TestDownloadSchemaAnswers(t *testing.T) {
	srv := schemaServer(t)
	g, err := New(Config{Upstream: "127.0.0.1:1", DownloadSchemas: []string{srv.URL + "/xsd/"}, DownloadTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url, result, reason, attr, value string
	}{
		{srv.URL + "/xsd/vendor.xsd", "true", "", "", ""},
		{srv.URL + "/xsd/nothing", "false", "httpError", "code", "404"},
		{srv.URL + "/xsd/page.html", "false", "invalidContentType", "contentTypeReturned", "text/html; charset=utf-8"},
		{srv.URL + "/xsd/slow.xsd", "false", "timeout", "", ""},
		{srv.URL + "/xsd/huge.xsd", "false", "error", "message", "schema larger than 1048576 bytes"},
		{srv.URL + "/xsd/away.xsd", "false", "error", "", ""},
		{srv.URL + "/private/secret.xsd", "false", "error", "message", "this gateway downloads schemas only from its configured locations"},
		{"file:///etc/passwd", "false", "invalidUrl", "", ""},
		{"urk://example.org/schema.xsd", "false", "invalidUrl", "", ""},
		{"", "false", "invalidUrl", "", ""},
	}
	for _, tc := range tests {
		t0 := time.Now()
		el := g.downloadSchema(context.Background(), tc.url)
		if el.Name.Space != xmpp.NSEXI || el.Name.Local != "downloadSchemaResponse" || el.Get("url") != tc.url || el.Get("result") != tc.result {
			t.Errorf("%s: %s url=%q result=%q", tc.url, el.Name.Local, el.Get("url"), el.Get("result"))
			continue
		}
		if time.Since(t0) > 2*time.Second {
			t.Errorf("%s: took %v", tc.url, time.Since(t0))
		}
		if tc.reason == "" {
			if el.FirstChild() != nil {
				t.Errorf("%s: success with a reason <%s>", tc.url, el.FirstChild().Name.Local)
			}
			continue
		}
		c := el.FirstChild()
		if c == nil || c.Name.Local != tc.reason || (tc.attr != "" && c.Get(tc.attr) != tc.value) {
			t.Errorf("%s: reason %+v, want <%s %s=%q>", tc.url, c, tc.reason, tc.attr, tc.value)
		}
	}
	if !slices.ContainsFunc(g.cfg.Schemas.All(), func(s xmppschema.Schema) bool { return s.NS == "urn:example:vendor" }) {
		t.Error("the downloaded schema is not in the gateway's set")
	}

	if _, err := New(Config{Upstream: "x:1", DownloadSchemas: []string{"ftp://example.org/"}}); err == nil {
		t.Error("an ftp download location was accepted")
	}
	none, _ := New(Config{Upstream: "x:1"})
	if el := none.downloadSchema(context.Background(), srv.URL+"/xsd/vendor.xsd"); el.Get("result") != "false" {
		t.Error("a gateway without download locations downloaded")
	}
}

// A device whose schema the gateway lacks has the gateway download it from
// where it is published, instead of uploading it over its own link.
func TestDeviceAsksGatewayToDownload(t *testing.T) {
	srv := schemaServer(t)
	e := startEnvWith(t, func(c *Config) { c.DownloadSchemas = []string{srv.URL + "/xsd/"} })
	set, err := xmppschema.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Add([]byte(vendorXSD)); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	mux := &xmpp.Mux{}
	xmpp.HandlePing(mux)
	dev := connect(t, e.config(t, "device", "down", e.neg, xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, Schemas: set, SchemaLocation: srv.URL + "/xsd/"}, &log), mux)
	for _, want := range []string{"server downloaded EXI schema", "uploaded=0", "stream switched to EXI"} {
		if !strings.Contains(log.String(), want) {
			t.Fatalf("no %q in the device's log:\n%s", want, log.String())
		}
	}
	cli := connect(t, e.config(t, "client", "cli", e.p.C2SAddr, xmpp.EXIConfig{}, nil), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := xmpp.Ping(ctx, cli, dev.LocalJID().String()); err != nil {
		t.Fatal(err)
	}

	// Published nowhere the gateway may fetch from: the device uploads.
	var log2 syncBuffer
	set2, _ := xmppschema.New()
	if _, err := set2.Add([]byte(strings.Replace(vendorXSD, "vendor", "vendor2", 1))); err != nil {
		t.Fatal(err)
	}
	connect(t, e.config(t, "device", "up", e.neg, xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, Schemas: set2, SchemaLocation: "https://elsewhere.example/"}, &log2), nil)
	for _, want := range []string{"server could not download EXI schema; uploading it", "uploaded=1", "stream switched to EXI"} {
		if !strings.Contains(log2.String(), want) {
			t.Fatalf("no %q in the device's log:\n%s", want, log2.String())
		}
	}
}

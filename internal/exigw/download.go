package exigw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/xiot/xiot/internal/xmpp"
)

// maxSchemaDownload bounds one downloaded schema, as uploads are bounded.
const maxSchemaDownload = 1 << 20

// downloadSchema answers a XEP-0322 downloadSchema: it fetches the schema
// at rawURL (only under one of Config.DownloadSchemas, so that devices
// cannot make the gateway reach arbitrary addresses), checks that it is
// XML, adds it to the schema set and returns the downloadSchemaResponse
// with result='true', or result='false' with the XEP's reason element.
func (g *Gateway) downloadSchema(ctx context.Context, rawURL string) *xmpp.Element {
	resp := xmpp.NewElement(xmpp.NSEXI, "downloadSchemaResponse", "url", rawURL, "result", "false")
	fail := func(name string, attrs ...string) *xmpp.Element {
		return resp.Add(xmpp.NewElement(xmpp.NSEXI, name, attrs...))
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail("invalidUrl", "message", "not an http or https URL")
	}
	if !g.downloadAllowed(u.String()) {
		g.log.Info("schema download refused: URL not under exigw download prefixes", "url", rawURL)
		return fail("error", "message", "this gateway downloads schemas only from its configured locations")
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.DownloadTimeout)
	defer cancel()
	client := &http.Client{
		Transport: g.cfg.HTTPTransport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			if !g.downloadAllowed(req.URL.String()) {
				return fmt.Errorf("redirect to %s, outside the configured locations", req.URL.Redacted())
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail("invalidUrl", "message", err.Error())
	}
	req.Header.Set("Accept", "application/xml, text/xml, application/xsd+xml")
	res, err := client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return fail("timeout", "message", "no response within "+g.cfg.DownloadTimeout.String())
		}
		var dns *net.DNSError
		if errors.As(err, &dns) {
			return fail("invalidUrl", "message", "host not found: "+dns.Name)
		}
		return fail("error", "message", err.Error())
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fail("httpError", "code", strconv.Itoa(res.StatusCode), "message", http.StatusText(res.StatusCode))
	}
	if ct := res.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml") || mt == "application/octet-stream") {
			return fail("invalidContentType", "contentTypeReturned", ct)
		}
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxSchemaDownload+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fail("timeout", "message", "download not complete within "+g.cfg.DownloadTimeout.String())
		}
		return fail("error", "message", err.Error())
	}
	if len(data) > maxSchemaDownload {
		return fail("error", "message", "schema larger than "+strconv.Itoa(maxSchemaDownload)+" bytes")
	}
	sc, err := g.cfg.Schemas.Add(data)
	if err != nil {
		return fail("error", "message", err.Error())
	}
	g.log.Info("schema downloaded", "url", rawURL, "ns", sc.NS, "bytes", sc.Bytes, "md5", sc.MD5)
	resp.Set("result", "true")
	return resp
}

// downloadAllowed reports whether u lies under one of the configured
// download locations.
func (g *Gateway) downloadAllowed(u string) bool {
	for _, p := range g.cfg.DownloadSchemas {
		if p != "" && strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

const readUsage = `Usage: xiot read [flags] JID

Read sensor data from the device at JID (a full JID, e.g.
device@example.org/xiot) with XEP-0323 and print it: an aligned table of
node, field, value, unit, timestamp and flags, or one JSON object per line
with --json. Nodes that fail are listed after the fields and make the
command exit 1. Times are RFC 3339 (2026-11-24T10:00:00Z), "now", or an
offset from now such as -24h or +10m.

XEP-0324 tokens (--user-token etc.) are passed on to the device's
provisioning server; a registry honours a rule about a token only for a
requester who answers its challenge, which --token-cert and --token-key
(the certificate the token was obtained for with xiot token, and its RSA
key) do.

Examples:
  xiot read --config /etc/xiot/xiot.yaml device@example.org/xiot
  xiot read --jid me@example.org --password-file pw device@example.org/xiot --node bme280 --field Temperature
  xiot read device@example.org/xiot --types historicalHour --from -24h --to now --json
  xiot read device@example.org/xiot --user-token TOKEN --token-cert me.crt --token-key me.key
`

// listFlag is a flag that may be repeated.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// readFlags are the options of "xiot read".
type readFlags struct {
	acct           accountFlags
	nodes, fields  listFlag
	types          string
	from, to, when string
	json           bool
	progressEvery  time.Duration
	serviceToken   string
	deviceToken    string
	userToken      string
	tokenCert      string
	tokenKey       string
	parsedFrom     time.Time
	parsedTo       time.Time
	parsedWhen     time.Time
	parsedTypes    sensors.ReadoutType
	jid            []string
}

// parseReadArgs parses flags and the JID in any order.
func parseReadArgs(args []string, stdout, stderr io.Writer, now time.Time) (*readFlags, *flag.FlagSet, error) {
	rf := &readFlags{}
	fs := newFlagSet("read", readUsage)
	rf.acct.register(fs)
	fs.Var(&rf.nodes, "node", "node id to read (repeatable; default all)")
	fs.Var(&rf.fields, "field", "field name to read (repeatable; default all)")
	fs.StringVar(&rf.types, "types", "momentary", "field types, comma-separated: momentary, peak, status, computed, identity, historical, historicalSecond…historicalOther, all")
	fs.StringVar(&rf.from, "from", "", "oldest historical value `time`")
	fs.StringVar(&rf.to, "to", "", "newest historical value `time`")
	fs.StringVar(&rf.when, "when", "", "perform the readout at this `time` (the device queues it; --timeout counts from then)")
	fs.BoolVar(&rf.json, "json", false, "print JSON lines instead of a table")
	fs.StringVar(&rf.serviceToken, "service-token", "", "XEP-0324 service token to pass on")
	fs.StringVar(&rf.deviceToken, "device-token", "", "XEP-0324 device token to pass on")
	fs.StringVar(&rf.userToken, "user-token", "", "XEP-0324 user token to pass on")
	fs.StringVar(&rf.tokenCert, "token-cert", "", "certificate `file` the tokens were obtained for (xiot token); with --token-key, answers the provisioning server's challenge of them")
	fs.StringVar(&rf.tokenKey, "token-key", "", "RSA private key `file` of --token-cert")
	fs.DurationVar(&rf.progressEvery, "progress", time.Second, "print a progress line on stderr this often while fields stream in (0: never)")
	for {
		if err := parseFlags(fs, args, stdout, stderr); err != nil {
			return nil, fs, err
		}
		if fs.NArg() == 0 {
			break
		}
		rf.jid = append(rf.jid, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rf.jid) != 1 {
		return nil, fs, usagef(fs, "want exactly one device JID, got %d", len(rf.jid))
	}
	if (rf.tokenCert == "") != (rf.tokenKey == "") {
		return nil, fs, usagef(fs, "--token-cert and --token-key go together")
	}
	if rf.tokenCert != "" && rf.serviceToken == "" && rf.deviceToken == "" && rf.userToken == "" {
		return nil, fs, usagef(fs, "--token-cert: no token given (--service-token, --device-token or --user-token)")
	}
	var err error
	if rf.parsedTypes, err = sensors.ParseReadoutType(rf.types); err != nil {
		return nil, fs, usagef(fs, "--types: %v", err)
	}
	for _, t := range []struct {
		name string
		s    string
		v    *time.Time
	}{{"--from", rf.from, &rf.parsedFrom}, {"--to", rf.to, &rf.parsedTo}, {"--when", rf.when, &rf.parsedWhen}} {
		if *t.v, err = parseWhen(t.s, now); err != nil {
			return nil, fs, usagef(fs, "%s: %v", t.name, err)
		}
	}
	return rf, fs, nil
}

// parseWhen reads an xs:dateTime, "now" or an offset from now; "" is the
// zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "":
		return time.Time{}, nil
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+"):
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("offset %q: %w", s, err)
		}
		return now.Add(d), nil
	}
	v, _, err := sensors.ParseValue(sensors.KindDateTime, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want RFC 3339 time, now or an offset like -24h: %w", err)
	}
	t, _ := v.Time()
	return t, nil
}

// request builds the XEP-0323 request of the flags.
func (rf *readFlags) request() sensordata.Request {
	r := sensordata.Request{Types: rf.parsedTypes, Fields: rf.fields, From: rf.parsedFrom, To: rf.parsedTo, When: rf.parsedWhen,
		ServiceToken: rf.serviceToken, DeviceToken: rf.deviceToken, UserToken: rf.userToken}
	for _, n := range rf.nodes {
		r.Nodes = append(r.Nodes, sensordata.NodeRef{NodeID: n})
	}
	return r
}

// runRead implements "xiot read".
func runRead(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	rf, _, err := parseReadArgs(args, stdout, stderr, time.Now())
	if err != nil {
		return err
	}
	timeout := rf.acct.timeout
	if wait := time.Until(rf.parsedWhen); wait > 0 {
		timeout += wait // --timeout counts from the time asked for
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mux := &xmpp.Mux{}
	client := sensordata.NewClient(mux)
	var holder *provisioning.Holder
	if rf.tokenCert != "" {
		// XEP-0324: the provisioning server may challenge the tokens; the
		// device passes the challenge on to us, and we prove we hold the
		// certificate's key.
		if holder, err = tokenHolder(rf); err != nil {
			return err
		}
		holder.Register(mux)
	}
	s, err := rf.acct.connect(ctx, stderr, mux)
	if err != nil {
		return err
	}
	defer s.Close()
	to := rf.jid[0]
	if holder != nil {
		tj, err := jid.Parse(to)
		if err != nil {
			return fmt.Errorf("device JID %q: %w", to, err)
		}
		holder.Sent(tj)
	}
	ro, err := client.Request(ctx, s, to, rf.request())
	if err != nil {
		return err
	}
	res, err := waitWithProgress(ctx, ro, rf.progressEvery, stderr)
	if err != nil {
		if ctx.Err() != nil {
			// Tell the device; it may still be reading.
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = ro.Cancel(cctx)
			ccancel()
		}
		if len(res.Fields) == 0 {
			return err
		}
	}
	if rf.json {
		if werr := writeJSON(stdout, res); werr != nil {
			return werr
		}
	} else {
		writeTable(stdout, res)
		for _, e := range res.Errors {
			fmt.Fprintf(stderr, "node %s failed at %s: %s\n", e.Node, stamp(e.Timestamp), e.Text)
		}
	}
	if err != nil {
		return err
	}
	if n := len(res.Errors); n > 0 {
		return fmt.Errorf("%d node(s) of %s failed", n, to)
	}
	return nil
}

// waitWithProgress waits for the readout, printing how many fields have
// arrived every so often once it takes longer than that.
func waitWithProgress(ctx context.Context, ro *sensordata.Readout, every time.Duration, stderr io.Writer) (sensordata.Result, error) {
	if every <= 0 {
		return ro.Wait(ctx)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	printed := false
	for {
		select {
		case <-ro.Done():
		case <-ctx.Done():
		case <-tick.C:
			n, e := ro.Progress()
			fmt.Fprintf(stderr, "\rreceived %d fields, %d node errors…", n, e)
			printed = true
			continue
		}
		if printed {
			fmt.Fprintln(stderr)
		}
		return ro.Wait(ctx)
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339Nano)
}

// flags returns a field's types, QoS flags and writable, comma-separated.
func flags(f sensors.Field) string {
	parts := f.Types.Names()
	parts = append(parts, f.QoS.Names()...)
	if f.Writable {
		parts = append(parts, "writable")
	}
	return strings.Join(parts, ",")
}

func writeTable(w io.Writer, res sensordata.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tFIELD\tVALUE\tUNIT\tTIMESTAMP\tFLAGS")
	for _, f := range res.Fields {
		unit := f.Unit
		if f.Value.Kind() == sensors.KindEnum {
			unit = "(" + f.Value.DataType() + ")"
		}
		ts := "-"
		if !f.Timestamp.IsZero() {
			ts = f.Timestamp.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Node, f.Name, f.Text(), unit, ts, flags(f))
	}
	tw.Flush()
}

// jsonField is one line of --json output.
type jsonField struct {
	Node      string   `json:"node"`
	Field     string   `json:"field,omitempty"`
	Kind      string   `json:"kind,omitempty"`
	Value     string   `json:"value,omitempty"`
	Number    *float64 `json:"number,omitempty"`
	Unit      string   `json:"unit,omitempty"`
	DataType  string   `json:"dataType,omitempty"`
	Timestamp string   `json:"timestamp"`
	Types     []string `json:"types,omitempty"`
	QoS       []string `json:"qos,omitempty"`
	Writable  bool     `json:"writable,omitempty"`
	Error     string   `json:"error,omitempty"`
}

func writeJSON(w io.Writer, res sensordata.Result) error {
	enc := json.NewEncoder(w)
	for _, f := range res.Fields {
		j := jsonField{Node: f.Node, Field: f.Name, Kind: f.Value.Kind().String(), Value: f.Text(), Unit: f.Unit,
			DataType: f.Value.DataType(), Timestamp: stamp(f.Timestamp), Types: f.Types.Names(), QoS: f.QoS.Names(), Writable: f.Writable}
		if n, ok := f.Value.Float(); ok && !isSpecial(n) {
			j.Number = &n
		}
		if err := enc.Encode(j); err != nil {
			return fmt.Errorf("writing JSON: %w", err)
		}
	}
	for _, e := range res.Errors {
		if err := enc.Encode(jsonField{Node: e.Node.String(), Timestamp: stamp(e.Timestamp), Error: e.Text}); err != nil {
			return fmt.Errorf("writing JSON: %w", err)
		}
	}
	return nil
}

// isSpecial reports NaN and infinities, which JSON numbers cannot hold.
func isSpecial(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }

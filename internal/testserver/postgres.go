package testserver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PostgresOptions configures a throwaway PostgreSQL server. The zero value
// is fine.
type PostgresOptions struct {
	// StartTimeout bounds the start; default 30 s (initdb included).
	StartTimeout time.Duration
}

// Postgres is a running throwaway PostgreSQL server (Debian's binaries,
// /usr/lib/postgresql/VERSION/bin) on 127.0.0.1, with password
// (scram-sha-256) authentication on TCP and its unix socket in Dir.
type Postgres struct {
	// URL is the postgres:// URL of database "xiot" as user "xiot",
	// password included.
	URL string
	// Addr is host:port on 127.0.0.1.
	Addr string
	// User and Password are the superuser's.
	User, Password string
	// Version is the server's major version, e.g. "15".
	Version string
	// Dir holds the data directory, the socket and the logs.
	Dir string

	bin  string // the bin directory
	as   []string
	sock string
	port int
	proc *process
}

// ErrPostgresNotInstalled is wrapped by StartPostgresContext when no
// Debian PostgreSQL server is installed.
var ErrPostgresNotInstalled = errors.New("PostgreSQL not installed: no /usr/lib/postgresql/*/bin/postgres; run scripts/install-deps.sh as root (Debian package postgresql)")

// findPostgres returns the bin directory of the newest Debian PostgreSQL
// and its major version.
func findPostgres() (string, string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(found) == 0 {
		return "", "", fmt.Errorf("testserver: %w", ErrPostgresNotInstalled)
	}
	major := func(p string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return n
	}
	slices.SortFunc(found, func(a, b string) int { return major(a) - major(b) })
	bin := filepath.Dir(found[len(found)-1])
	for _, b := range []string{"initdb", "psql"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return "", "", fmt.Errorf("testserver: %s: %w", b, ErrPostgresNotInstalled)
		}
	}
	return bin, filepath.Base(filepath.Dir(bin)), nil
}

// runAs returns the command prefix that runs a PostgreSQL binary as a
// user it accepts: as root, the "postgres" system user through setpriv
// (the server refuses to run as root); otherwise nothing. It chowns dir
// to that user and returns a function that chowns files to it.
func runAs(dir string) ([]string, func(string) error, error) {
	if os.Geteuid() != 0 {
		return nil, func(string) error { return nil }, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, nil, fmt.Errorf("testserver: running as root, PostgreSQL needs the postgres system user: %w", err)
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return nil, nil, fmt.Errorf("testserver: running as root, PostgreSQL is run as postgres with setpriv: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	chown := func(path string) error { return os.Chown(path, uid, gid) }
	if err := chown(dir); err != nil {
		return nil, nil, fmt.Errorf("testserver: %w", err)
	}
	// Changing the user clears the parent death signal that sysProcAttr
	// set: setpriv sets it again, so that a test binary that dies (a
	// timeout) takes the server with it.
	return []string{setpriv, "--reuid=" + u.Uid, "--regid=" + u.Gid, "--clear-groups", "--pdeathsig", "KILL", "--"}, chown, nil
}

// StartPostgresContext initialises a cluster in a temporary directory,
// starts the server on a free port of 127.0.0.1 and creates database
// "xiot". The caller must call Close. A missing installation yields an
// error wrapping ErrPostgresNotInstalled.
func StartPostgresContext(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	bin, version, err := findPostgres()
	if err != nil {
		return nil, err
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	var p *Postgres
	err = startFresh(ctx, "xiot-postgres-", func(dir string) (*process, error) {
		var err error
		p, err = setupPostgres(ctx, dir, bin, version, opts)
		if err != nil {
			return nil, err
		}
		return p.proc, nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := p.psql(ctx, "CREATE DATABASE xiot"); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// setupPostgres runs initdb in dir and prepares the server process.
func setupPostgres(ctx context.Context, dir, bin, version string, opts PostgresOptions) (*Postgres, error) {
	as, chown, err := runAs(dir)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	password, err := randomHex(12)
	if err != nil {
		return nil, fmt.Errorf("postgres: password: %w", err)
	}
	p := &Postgres{
		User: "xiot", Password: password, Version: version, Dir: dir,
		bin: bin, as: as, sock: dir, port: ports[0],
		Addr: loopbackAddr(ports[0]),
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := chown(pwfile); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	data := filepath.Join(dir, "data")
	initdb := append(slices.Clone(as), filepath.Join(bin, "initdb"), "-D", data, "-U", p.User, "--pwfile", pwfile,
		"--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	ictx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ictx, initdb[0], initdb[1:]...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("postgres: initdb: %w\n%s", err, lastLines(out, logTailLines))
	}
	os.Remove(pwfile)
	server := append(slices.Clone(as), filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+p.sock,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "logging_collector=off", "-c", "max_connections=50")
	p.URL = (&url.URL{Scheme: "postgres", User: url.UserPassword(p.User, password), Host: p.Addr, Path: "/xiot",
		RawQuery: "sslmode=disable"}).String()
	stdout := filepath.Join(dir, "stdout.log")
	p.proc = &process{
		name:     "postgres",
		path:     server[0],
		args:     server[1:],
		dir:      dir,
		logFiles: []string{stdout},
		ready:    []string{p.Addr},
		readyLog: []string{"database system is ready to accept connections"},
		failLog:  "could not bind IPv4 address",
		timeout:  opts.StartTimeout,
	}
	return p, nil
}

// psql runs one SQL command as the superuser over the unix socket.
func (p *Postgres) psql(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", p.sock, "-p", strconv.Itoa(p.port), "-U", p.User, "-d", "postgres", "-tA", "-c", command)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("postgres: psql %q: %w\n%s", command, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

var dbName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// CreateDatabase creates the database name (lower case letters, digits
// and _) and returns its URL.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	if !dbName.MatchString(name) {
		return "", fmt.Errorf("postgres: bad database name %q", name)
	}
	if _, err := p.psql(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	u, _ := url.Parse(p.URL)
	u.Path = "/" + name
	return u.String(), nil
}

// LogTail returns the end of the server's log.
func (p *Postgres) LogTail() string { return p.proc.logTail() }

// Close stops the server (fast shutdown: clients are disconnected) and
// removes its directory.
func (p *Postgres) Close() error {
	var err error
	if !p.proc.signal(syscall.SIGINT, stopGrace) {
		err = p.proc.kill()
	}
	if rmErr := os.RemoveAll(p.Dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("postgres: remove %s: %w", p.Dir, rmErr))
	}
	return err
}

// StartPostgres starts a throwaway PostgreSQL for the test and stops it
// and removes its directory when the test ends, logging the end of the
// server's log if the test failed. It skips the test, saying why, only
// when PostgreSQL is not installed; any other failure fails it.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	p, err := StartPostgresContext(context.Background(), PostgresOptions{})
	if errors.Is(err, ErrPostgresNotInstalled) {
		t.Skipf("skipped: %v", err)
	}
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgres logs (%s):\n%s", p.Dir, p.LogTail())
		}
		if err := p.Close(); err != nil {
			t.Errorf("testserver: %v", err)
		}
	})
	return p
}

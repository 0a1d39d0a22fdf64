// Command go-net-http is hopcheck's driver for Go's standard HTTP client:
// one persistent process that answers plan after plan, each step sent with a
// net/http Client the way the package documentation shows
// (https://pkg.go.dev/net/http#Client): http.NewRequestWithContext, then
// Client.Do, with the default redirect policy (follow up to 10 redirects).
//
// Protocol: one JSON plan per line on stdin, one JSON answer per line on
// stdout (see harness/src/targets/mod.rs; bodies in base64, which
// encoding/json does for []byte). Each answer echoes the plan's `id`.
//
// Each plan gets a fresh Client and Transport (no connections, cookies or
// TLS sessions carried from one plan to the next; Go's client keeps no HSTS
// state). Requests go through the harness's listener as their forward proxy
// (Transport.Proxy = http.ProxyURL) and trust only the run's test CA
// (tls.Config.RootCAs from the plan's CA file). The client's deadline is a
// little below the plan's `timeout_ms`.
//
// A step's `error` is the client's own error from Client.Do or from reading
// the body: the case judges it. A fault of this driver (a plan it cannot
// read, a CA file it cannot load, the client's deadline spent) is the step's
// or the plan's `driver_error`, which makes the case `error`, never the
// client's `fail`. Standard library only; each request is logged to stderr.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// plan is the protocol's input line: the fields this driver uses.
type plan struct {
	ID        *json.RawMessage `json:"id"`
	TimeoutMS int64            `json:"timeout_ms"`
	Case      string           `json:"case"`
	Steps     []planStep       `json:"steps"`
	Proxy     string           `json:"proxy"`
	CAFile    string           `json:"ca_file"`
	StateDir  string           `json:"state_dir"`
}

type planStep struct {
	Method   string      `json:"method"`
	URL      string      `json:"url"`
	Headers  [][2]string `json:"headers"`
	Body     []byte      `json:"body"`
	Streamed bool        `json:"streamed"`
	Follow   bool        `json:"follow"`
	DelayMS  int64       `json:"delay_ms"`
	Insecure bool        `json:"insecure"`
}

// answer is the protocol's output line.
type answer struct {
	ID          *json.RawMessage `json:"id"`
	Steps       []stepResult     `json:"steps"`
	Unsupported []string         `json:"unsupported"`
	DriverError string           `json:"driver_error,omitempty"`
}

type stepResult struct {
	Status      *int        `json:"status,omitempty"`
	URL         *string     `json:"url,omitempty"`
	Headers     [][2]string `json:"headers"`
	Body        []byte      `json:"body"`
	Error       *string     `json:"error,omitempty"`
	DriverError *string     `json:"driver_error,omitempty"`
}

// proxyVariables are cleared at start: the proxy is set on the Transport,
// and nothing from the caller's environment may add to it.
var proxyVariables = []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "REQUEST_METHOD"}

// clientMargin is how much earlier than the case's time limit the client's
// own deadline falls, so that this driver still answers in time.
const clientMargin = 500 * time.Millisecond

// driverFault is something this driver cannot do or read: a `driver_error`.
type driverFault struct{ message string }

func (f driverFault) Error() string { return f.message }

// streamedBody hides the bytes.Reader from http.NewRequest, which would
// otherwise set Request.GetBody and make the body replayable: what a user
// gets when sending from a pipe or any other io.Reader.
type streamedBody struct{ io.Reader }

// session is one plan's client state: a Client per TLS policy, sharing
// nothing with other plans.
type session struct {
	proxy    *url.URL
	roots    *x509.CertPool
	clients  map[bool]*http.Client // by "insecure"
	deadline time.Time
}

func newSession(p *plan) (*session, error) {
	proxy, err := url.Parse(p.Proxy)
	if err != nil || proxy.Host == "" {
		return nil, driverFault{fmt.Sprintf("the plan's proxy %q is not a URL: %v", p.Proxy, err)}
	}
	pem, err := os.ReadFile(p.CAFile)
	if err != nil {
		return nil, driverFault{fmt.Sprintf("cannot read the CA file: %v", err)}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, driverFault{fmt.Sprintf("no certificate in the CA file %s", p.CAFile)}
	}
	timeout := time.Duration(p.TimeoutMS) * time.Millisecond
	if p.TimeoutMS <= 0 {
		timeout = 30 * time.Second
	}
	limit := timeout - clientMargin
	if limit < timeout/2 {
		limit = timeout / 2
	}
	return &session{
		proxy:    proxy,
		roots:    roots,
		clients:  map[bool]*http.Client{},
		deadline: time.Now().Add(limit),
	}, nil
}

// client is the plan's Client for secure or insecure requests: a clone of
// http.DefaultTransport (its timeouts, HTTP/2 attempt and pooling) with the
// proxy and the trust set, and no cookie jar, as a Go user writes it.
func (s *session) client(insecure bool) *http.Client {
	if c, ok := s.clients[insecure]; ok {
		return c
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = http.ProxyURL(s.proxy)
	transport.TLSClientConfig = &tls.Config{RootCAs: s.roots, InsecureSkipVerify: insecure}
	c := &http.Client{Transport: transport}
	s.clients[insecure] = c
	return c
}

func (s *session) close() {
	for _, c := range s.clients {
		c.CloseIdleConnections()
	}
}

// newRequest is the step as a user writes it with
// http.NewRequestWithContext: the body from a *bytes.Reader (replayable:
// NewRequest sets GetBody) or, for a streamed step, from a reader NewRequest
// does not know (GetBody stays nil); Host from the step's Host header.
func newRequest(ctx context.Context, step *planStep) (*http.Request, error) {
	var body io.Reader
	if len(step.Body) > 0 || step.Streamed {
		if step.Streamed {
			body = streamedBody{bytes.NewReader(step.Body)}
		} else {
			body = bytes.NewReader(step.Body)
		}
	}
	req, err := http.NewRequestWithContext(ctx, step.Method, step.URL, body)
	if err != nil {
		return nil, err
	}
	for _, h := range step.Headers {
		if strings.EqualFold(h[0], "Host") {
			// Go sends Request.Host, never a Host entry of Request.Header.
			req.Host = h[1]
			continue
		}
		req.Header.Add(h[0], h[1])
	}
	if step.Streamed {
		// The length is known to the user; what makes it streamed is that
		// the body cannot be read again.
		req.ContentLength = int64(len(step.Body))
	}
	return req, nil
}

func runStep(s *session, step *planStep) stepResult {
	if step.DelayMS > 0 {
		time.Sleep(time.Duration(step.DelayMS) * time.Millisecond)
	}
	ctx, cancel := context.WithDeadline(context.Background(), s.deadline)
	defer cancel()

	req, err := newRequest(ctx, step)
	if err != nil {
		// The client refuses the method or URL: its own answer.
		return clientError(err)
	}

	c := s.client(step.Insecure)
	if !step.Follow {
		// The documented way to get the redirect response itself
		// (https://pkg.go.dev/net/http#Client, CheckRedirect).
		c = &http.Client{
			Transport:     c.Transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	log("%s %s (follow=%t insecure=%t streamed=%t)", step.Method, step.URL, step.Follow, step.Insecure, step.Streamed)
	resp, err := c.Do(req)
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return fault(fmt.Sprintf("the client was still running at the case's time limit: %v", err))
		}
		return clientError(err)
	}
	defer resp.Body.Close()
	content, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return fault(fmt.Sprintf("the client was still reading the body at the case's time limit: %v", err))
		}
		return clientError(fmt.Errorf("reading the body: %w", err))
	}
	status := resp.StatusCode
	final := resp.Request.URL.String()
	return stepResult{
		Status:  &status,
		URL:     &final,
		Headers: headerList(resp.Header),
		Body:    content,
	}
}

// headerList is the response's fields in a stable order: net/http keeps
// them in a map by canonical name, so the wire order between names is not
// observable; values of one name keep their order.
func headerList(h http.Header) [][2]string {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	list := [][2]string{}
	for _, name := range names {
		for _, value := range h[name] {
			list = append(list, [2]string{text(name), text(value)})
		}
	}
	return list
}

// text is the bytes as UTF-8 when they are, else each byte as the character
// of the same number (Latin-1), so that no byte is lost or replaced.
func text(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	runes := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		runes[i] = rune(s[i])
	}
	return string(runes)
}

func clientError(err error) stepResult {
	message := text(err.Error())
	return stepResult{Headers: [][2]string{}, Body: []byte{}, Error: &message}
}

func fault(message string) stepResult {
	return stepResult{Headers: [][2]string{}, Body: []byte{}, DriverError: &message}
}

func handle(p *plan) answer {
	reply := answer{ID: p.ID, Steps: []stepResult{}, Unsupported: []string{}}
	s, err := newSession(p)
	if err != nil {
		reply.DriverError = err.Error()
		return reply
	}
	defer s.close()
	for i := range p.Steps {
		reply.Steps = append(reply.Steps, runStep(s, &p.Steps[i]))
	}
	return reply
}

// answerLine handles one plan line; a line it cannot read is answered with
// a top-level `driver_error`, echoing the id when there is one.
func answerLine(line []byte) (reply answer) {
	var p plan
	if err := json.Unmarshal(line, &p); err != nil {
		var idOnly struct {
			ID *json.RawMessage `json:"id"`
		}
		_ = json.Unmarshal(line, &idOnly)
		return answer{ID: idOnly.ID, Steps: []stepResult{}, Unsupported: []string{},
			DriverError: fmt.Sprintf("cannot read the plan: %v", err)}
	}
	defer func() {
		// A panic is this driver's bug (or the library's), never the
		// client's answer to the case.
		if r := recover(); r != nil {
			reply = answer{ID: p.ID, Steps: []stepResult{}, Unsupported: []string{},
				DriverError: fmt.Sprintf("driver panic: %v", r)}
		}
	}()
	return handle(&p)
}

func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "-version" {
		// net/http is the toolchain's: its version is Go's.
		fmt.Printf("%s net/http (%s/%s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return
	}
	for _, name := range proxyVariables {
		os.Unsetenv(name)
		os.Unsetenv(strings.ToLower(name))
	}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if encodeErr := encoder.Encode(answerLine(line)); encodeErr != nil {
				log("cannot write the answer: %v", encodeErr)
				os.Exit(1)
			}
			if flushErr := out.Flush(); flushErr != nil {
				os.Exit(1)
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				log("cannot read stdin: %v", err)
				os.Exit(1)
			}
			return
		}
	}
}

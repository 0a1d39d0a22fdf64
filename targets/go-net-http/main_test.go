package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestStreamedBodyIsNotReplayable(t *testing.T) {
	step := planStep{Method: "POST", URL: "http://a.test/", Body: []byte("abc"), Streamed: true}
	req, err := newRequest(context.Background(), &step)
	if err != nil {
		t.Fatal(err)
	}
	if req.GetBody != nil {
		t.Error("a streamed body must leave GetBody nil, or Go replays it after a 307/308")
	}
	if req.ContentLength != 3 {
		t.Errorf("ContentLength = %d, want 3", req.ContentLength)
	}
}

func TestPlainBodyIsReplayable(t *testing.T) {
	step := planStep{Method: "PUT", URL: "http://a.test/", Body: []byte("abc")}
	req, err := newRequest(context.Background(), &step)
	if err != nil {
		t.Fatal(err)
	}
	if req.GetBody == nil {
		t.Error("a plain body must set GetBody, as http.NewRequest does for a *bytes.Reader")
	}
}

func TestHostHeaderBecomesRequestHost(t *testing.T) {
	step := planStep{Method: "GET", URL: "http://a.test/", Headers: [][2]string{{"host", "b.test"}, {"X-Empty", ""}}}
	req, err := newRequest(context.Background(), &step)
	if err != nil {
		t.Fatal(err)
	}
	if req.Host != "b.test" || req.Header.Get("Host") != "" {
		t.Errorf("Host = %q, header Host = %q; want Request.Host b.test and no header", req.Host, req.Header.Get("Host"))
	}
	if values, ok := req.Header["X-Empty"]; !ok || len(values) != 1 || values[0] != "" {
		t.Errorf("X-Empty = %q, want one empty value", values)
	}
}

func TestInvalidMethodIsTheClientsError(t *testing.T) {
	step := planStep{Method: "BAD METHOD", URL: "http://a.test/"}
	s := &session{clients: map[bool]*http.Client{}, deadline: time.Now().Add(time.Second)}
	result := runStep(s, &step)
	if result.Error == nil || result.DriverError != nil {
		t.Errorf("got %+v, want the client's error and no driver_error", result)
	}
}

func TestTextKeepsEveryByte(t *testing.T) {
	if got := text("caf\xe9"); got != "café" {
		t.Errorf("text(Latin-1) = %q, want café", got)
	}
	if got := text("café"); got != "café" {
		t.Errorf("text(UTF-8) = %q, want café", got)
	}
}

func TestHeadersAreSortedByName(t *testing.T) {
	got := headerList(http.Header{"Set-Cookie": {"b", "a"}, "Location": {"/x"}})
	want := [][2]string{{"Location", "/x"}, {"Set-Cookie", "b"}, {"Set-Cookie", "a"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got, want)
		}
	}
}

func TestAnswerEchoesTheIdOnAnUnreadablePlan(t *testing.T) {
	reply := answerLine([]byte(`{"id": 42, "steps": "not a list"}`))
	line, _ := json.Marshal(reply)
	if reply.ID == nil || string(*reply.ID) != "42" || reply.DriverError == "" {
		t.Errorf("got %s, want id 42 and a driver_error", line)
	}
}

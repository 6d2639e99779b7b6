package upgrade

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestIsUpgrade(t *testing.T) {
	cases := []struct {
		conn, upgrade string
		want          bool
	}{
		{"Upgrade", "websocket", true},
		{"keep-alive, Upgrade", "SPDY/3.1", true},
		{"upgrade", "", false},
		{"keep-alive", "websocket", false},
		{"", "", false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.conn != "" {
			r.Header.Set("Connection", tc.conn)
		}
		if tc.upgrade != "" {
			r.Header.Set("Upgrade", tc.upgrade)
		}
		if got := IsUpgrade(r); got != tc.want {
			t.Errorf("Connection %q Upgrade %q: %v, want %v", tc.conn, tc.upgrade, got, tc.want)
		}
	}
}

func TestOutRequestKeepsProtocolDropsCredentials(t *testing.T) {
	r := httptest.NewRequest("POST", "/api/v1/namespaces/a/pods/b/exec", nil)
	for k, v := range map[string]string{
		"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": "v4.channel.k8s.io",
		"Sec-Websocket-Protocol": "v5.channel.k8s.io", "Authorization": "Bearer x", "Impersonate-User": "root",
		"Cookie": "c=1", "Keep-Alive": "timeout=5",
	} {
		r.Header.Set(k, v)
	}
	out, err := OutRequest(r, "http://127.0.0.1:1/exec/token")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": "v4.channel.k8s.io",
		"Sec-Websocket-Protocol": "v5.channel.k8s.io", "Authorization": "", "Impersonate-User": "", "Cookie": "", "Keep-Alive": "",
	} {
		if got := out.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if out.Method != "POST" || out.URL.Path != "/exec/token" {
		t.Errorf("out %s %s", out.Method, out.URL)
	}
}

// TestForwardRefusal: an upstream that does not switch protocols is answered
// to the client as it is.
func TestForwardRefusal(t *testing.T) {
	up, down := net.Pipe()
	go func() {
		br := bufio.NewReader(down)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(down, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"code\":404}")
		time.Sleep(100 * time.Millisecond)
		down.Close()
	}()
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "SPDY/3.1")
	out, _ := OutRequest(r, "http://runtime/exec/x")
	w := httptest.NewRecorder()
	if err := Forward(w, out, up); err != nil {
		t.Fatal(err)
	}
	if w.Code != 404 || w.Header().Get("Content-Type") != "application/json" || !strings.Contains(w.Body.String(), `"code":404`) {
		t.Errorf("answer %d %v %q", w.Code, w.Header(), w.Body.String())
	}
}

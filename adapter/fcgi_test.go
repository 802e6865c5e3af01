package adapter_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/adapter"
	"github.com/continuity-go/continuity/internal/fcgitest"
)

// fcgiClient is a browser whose requests go to the FastCGI application at
// network, addr, as through a web server in front of it.
func fcgiClient(t *testing.T, network, addr string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Transport: &fcgitest.Transport{Network: network, Addr: addr}, Timeout: 10 * time.Second}
}

func fetch(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// TestFCGIServerShutsDownGracefully: an FCGIServer serves a continuity
// server whose sessions follow their cookie; Shutdown waits for a request
// being handled, closes idle connections, and makes Serve return
// http.ErrServerClosed.
func TestFCGIServerShutsDownGracefully(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "app.sock")
			}
			l, err := net.Listen(network, addr)
			require.NoError(t, err)
			app, err := continuity.New(counter, nil)
			require.NoError(t, err)
			entered, release := make(chan struct{}), make(chan struct{})
			mux := http.NewServeMux()
			mux.Handle("/", app)
			mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
				close(entered)
				<-release
				io.WriteString(w, "slow answer")
			})
			fs := &adapter.FCGIServer{Handler: mux}
			served := make(chan error, 1)
			go func() { served <- fs.Serve(l) }()
			addr = l.Addr().String()

			c := fcgiClient(t, network, addr)
			for _, want := range []string{"1", "2", "3"} {
				code, body := fetch(t, c, "http://app.test/counter")
				assert.Equal(t, http.StatusOK, code)
				assert.Equal(t, want, body, "the session follows its cookie")
			}

			slow := make(chan string, 1)
			go func() {
				resp, err := c.Get("http://app.test/slow")
				if err != nil {
					slow <- err.Error()
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				slow <- string(b)
			}()
			<-entered
			// A web server's spare connection, open and accepted: it asks
			// FCGI_GET_VALUES and reads the answer, a stream of records
			// that ends with an empty one.
			idle, err := net.Dial(network, addr)
			require.NoError(t, err)
			defer idle.Close()
			_, err = idle.Write([]byte{1, 9, 0, 0, 0, 0, 0, 0})
			require.NoError(t, err)
			for n := -1; n != 0; {
				head := make([]byte, 8)
				_, err = io.ReadFull(idle, head)
				require.NoError(t, err)
				require.Equal(t, byte(10), head[1], "FCGI_GET_VALUES_RESULT")
				n = int(head[4])<<8 | int(head[5])
				_, err = io.ReadFull(idle, make([]byte, n+int(head[6])))
				require.NoError(t, err)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, app.Shutdown(ctx))
			shut := make(chan error, 1)
			go func() { shut <- fs.Shutdown(ctx) }()
			require.ErrorIs(t, <-served, http.ErrServerClosed)
			select {
			case err := <-shut:
				t.Fatalf("Shutdown returned (%v) while a request was being handled", err)
			default:
			}
			close(release)
			assert.Equal(t, "slow answer", <-slow)
			require.NoError(t, <-shut)

			_, err = idle.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.EOF, "the idle connection is closed")
			_, err = net.Dial(network, addr)
			assert.Error(t, err, "still accepting")
			assert.ErrorIs(t, fs.Serve(l), http.ErrServerClosed, "Serve after Shutdown")
		})
	}
}

// TestFCGIServerShutdownGivesUp: a request that does not end holds
// Shutdown only until its context ends.
func TestFCGIServerShutdownGivesUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	entered, release := make(chan struct{}), make(chan struct{})
	fs := &adapter.FCGIServer{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})}
	served := make(chan error, 1)
	go func() { served <- fs.Serve(l) }()
	got := make(chan error, 1)
	go func() {
		resp, err := fcgiClient(t, "tcp", l.Addr().String()).Get("http://app.test/")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		got <- err
	}()
	<-entered

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, fs.Shutdown(ctx), context.Canceled)
	assert.ErrorIs(t, <-served, http.ErrServerClosed)
	assert.Error(t, <-got, "the connection was closed under the request")
	close(release) // the handler returns; goleak checks nothing is left
}

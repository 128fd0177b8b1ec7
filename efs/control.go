package efs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// The control interface lets another process drive a running mount: HTTP
// with JSON bodies on a unix socket.
//
//	GET    /stats        Stats
//	GET    /faults       []ActiveFault
//	POST   /faults       Fault -> {"id": N}
//	DELETE /faults/{id}  lift one
//	DELETE /faults       lift all -> {"lifted": N}
//	POST   /drop-unsynced  revert files to their last fsync -> DropReport
//
// Errors come back as {"error": "..."} with status 400 or 404.

// ServeControl answers control requests for f on a unix socket until ctx is
// done, then removes the socket. A stale socket file at path is replaced.
func (f *FS) ServeControl(ctx context.Context, path string) error {
	ln, err := listenControl(path)
	if err != nil {
		return err
	}
	return serveControl(ctx, f, ln, path)
}

func listenControl(path string) (net.Listener, error) {
	if info, err := os.Lstat(path); err == nil {
		if info.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("control socket %s exists and is not a socket", path)
		}
		if conn, err := net.Dial("unix", path); err == nil {
			conn.Close()
			return nil, fmt.Errorf("control socket %s is in use by another mount", path)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict control socket: %w", err)
	}
	return ln, nil
}

func serveControl(ctx context.Context, f *FS, ln net.Listener, path string) error {
	srv := &http.Server{Handler: controlHandler(f), ReadHeaderTimeout: 5 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	})
	defer stop()
	defer os.Remove(path)
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve control socket %s: %w", path, err)
}

func controlHandler(f *FS) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.Stats())
	})
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.Faults())
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var fault Fault
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&fault); err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{"fault: " + err.Error()})
			return
		}
		id, err := f.Inject(fault)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, idBody{id})
	})
	mux.HandleFunc("DELETE /faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("fault id %q is not a number", r.PathValue("id"))})
			return
		}
		if err := f.Lift(id); err != nil {
			writeJSON(w, http.StatusNotFound, errorBody{err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, liftedBody{1})
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, liftedBody{f.LiftAll()})
	})
	mux.HandleFunc("POST /drop-unsynced", func(w http.ResponseWriter, r *http.Request) {
		rep, err := f.DropUnsynced()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorBody{err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
	return mux
}

type errorBody struct {
	Error string `json:"error"`
}
type idBody struct {
	ID int `json:"id"`
}
type liftedBody struct {
	Lifted int `json:"lifted"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Client talks to a mount's control socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the control socket at path.
func NewClient(path string) *Client {
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
	return &Client{socket: path, http: &http.Client{Transport: transport, Timeout: 30 * time.Second}}
}

// Inject puts a fault in force on the remote mount and returns its id.
func (c *Client) Inject(ctx context.Context, f Fault) (int, error) {
	var out idBody
	if err := c.do(ctx, http.MethodPost, "/faults", f, &out); err != nil {
		return 0, err
	}
	return out.ID, nil
}

// Lift ends one fault.
func (c *Client) Lift(ctx context.Context, id int) error {
	return c.do(ctx, http.MethodDelete, "/faults/"+strconv.Itoa(id), nil, &liftedBody{})
}

// LiftAll ends every fault and returns how many there were.
func (c *Client) LiftAll(ctx context.Context) (int, error) {
	var out liftedBody
	err := c.do(ctx, http.MethodDelete, "/faults", nil, &out)
	return out.Lifted, err
}

// Faults lists the faults in force.
func (c *Client) Faults(ctx context.Context) ([]ActiveFault, error) {
	var out []ActiveFault
	err := c.do(ctx, http.MethodGet, "/faults", nil, &out)
	return out, err
}

// DropUnsynced reverts the remote mount's files to their last fsync (see
// FS.DropUnsynced).
func (c *Client) DropUnsynced(ctx context.Context) (DropReport, error) {
	var out DropReport
	err := c.do(ctx, http.MethodPost, "/drop-unsynced", nil, &out)
	return out, err
}

// Stats fetches the remote mount's Stats.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var out Stats
	err := c.do(ctx, http.MethodGet, "/stats", nil, &out)
	return out, err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://efs"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("control socket %s (is `valkey-chaos efs mount --control` running?): %w", c.socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read reply from %s: %w", c.socket, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode reply from %s: %w", c.socket, err)
	}
	return nil
}

// Run mounts src at mnt, serves the control socket (when control is not
// empty) and blocks until ctx is done, then unmounts. started is called once
// the mount is up. This is `valkey-chaos efs mount`.
func Run(ctx context.Context, src, mnt string, cfg Config, control string, started func(*FS)) (err error) {
	var ln net.Listener
	if control != "" {
		// Listen before mounting, so a bad socket path fails before anything
		// is mounted.
		if ln, err = listenControl(control); err != nil {
			return err
		}
	}
	f, err := Mount(ctx, src, mnt, cfg)
	if err != nil {
		if ln != nil {
			ln.Close()
			os.Remove(control)
		}
		return err
	}
	defer func() {
		if uerr := f.Unmount(); uerr != nil && err == nil {
			err = uerr
		}
	}()
	served := make(chan error, 1)
	if ln != nil {
		go func() { served <- serveControl(ctx, f, ln, control) }()
	} else {
		served <- nil
	}
	if started != nil {
		started(f)
	}
	<-ctx.Done()
	return <-served
}

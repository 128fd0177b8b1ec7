package ecstwin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The wire protocols the SDK clients speak (FACTS.md Part 2 §4, and the
// SDK sources): ECS and CloudWatch Logs use awsJson1.1 (POST /, the
// operation in X-Amz-Target); CloudWatch in aws-sdk-go-v2 service/cloudwatch
// v1.75 uses Smithy RPC v2 CBOR (POST /service/<svc>/operation/<op>).
const (
	ecsTargetPrefix  = "AmazonEC2ContainerServiceV20141113."
	logsTargetPrefix = "Logs_20140328."
	cloudWatchPath   = "/service/GraniteServiceVersion20100801/operation/"
	// The aws CLI (botocore) reaches CloudWatch over awsJson1.0 instead.
	cloudWatchTargetPrefix = "GraniteServiceVersion20100801."
)

// apiError is an AWS error response.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func clientError(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

type failRule struct {
	op, code  string
	remaining int // < 0: forever
}

// injectedFailure consumes a matching FailCalls rule, if any.
func (tw *Twin) injectedFailure(service, op string) *apiError {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	for _, r := range tw.failRules {
		if r.remaining == 0 || (r.op != "" && r.op != op) {
			continue
		}
		if r.remaining > 0 {
			r.remaining--
		}
		return tw.failureFor(service, op, r.code)
	}
	return nil
}

// failureFor builds the error AWS would send for code, with AWS's wording.
func (tw *Twin) failureFor(service, op, code string) *apiError {
	action := service + ":" + op
	switch code {
	case "AccessDeniedException", "AccessDenied":
		return clientError(code, "User: arn:aws:sts::%s:assumed-role/valkey-chaos/twin is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
			tw.cfg.Account, action, tw.serviceARN(), action)
	case "ThrottlingException", "Throttling":
		return clientError(code, "Rate exceeded")
	case "ServerException", "InternalFailure", "ServiceUnavailableException":
		return &apiError{status: http.StatusInternalServerError, code: code, message: "Service unavailable, injected by the ECS twin"}
	case "UnrecognizedClientException":
		return clientError(code, "The security token included in the request is invalid.")
	}
	return clientError(code, "injected by the ECS twin")
}

func (tw *Twin) record(c Call) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.calls = append(tw.calls, c)
}

// ServeHTTP dispatches on the protocol the request speaks.
func (tw *Twin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", randomHex(16))
	switch {
	case strings.HasPrefix(r.URL.Path, "/_twin/"):
		tw.serveAdmin(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, cloudWatchPath):
		tw.serveCBOR(w, r, strings.TrimPrefix(r.URL.Path, cloudWatchPath))
	case r.Method == http.MethodPost && r.URL.Path == "/":
		tw.serveJSON(w, r)
	default:
		http.Error(w, "the ECS twin serves POST / (awsJson1.1), POST "+cloudWatchPath+"<op> (rpc-v2-cbor) and /_twin/", http.StatusNotFound)
	}
}

type jsonOp func(body []byte) (any, *apiError)

func (tw *Twin) serveJSON(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		writeJSONError(w, clientError("SerializationException", "read body: %v", err))
		return
	}
	var service, op string
	var handler jsonOp
	switch {
	case strings.HasPrefix(target, ecsTargetPrefix):
		service, op = "ecs", strings.TrimPrefix(target, ecsTargetPrefix)
		handler = tw.ecsOps()[op]
	case strings.HasPrefix(target, logsTargetPrefix):
		service, op = "logs", strings.TrimPrefix(target, logsTargetPrefix)
		handler = tw.logsOps()[op]
	case strings.HasPrefix(target, cloudWatchTargetPrefix):
		service, op = "cloudwatch", strings.TrimPrefix(target, cloudWatchTargetPrefix)
		handler = func(body []byte) (any, *apiError) { return tw.cloudWatchJSON(op, body) }
	default:
		writeJSONError(w, clientError("UnknownOperationException", "unknown X-Amz-Target %q", target))
		return
	}
	call := Call{At: time.Now(), Service: service, Operation: op, Input: string(body)}
	var out any
	aerr := tw.injectedFailure(service, op)
	switch {
	case aerr != nil:
	case handler == nil:
		aerr = clientError("UnknownOperationException", "the ECS twin does not implement %s:%s", service, op)
	default:
		out, aerr = handler(body)
	}
	if aerr != nil {
		call.Error = aerr.code
		tw.record(call)
		writeJSONError(w, aerr)
		return
	}
	tw.record(call)
	data, err := json.Marshal(out)
	if err != nil {
		writeJSONError(w, &apiError{status: 500, code: "InternalFailure", message: err.Error()})
		return
	}
	ct := r.Header.Get("Content-Type") // awsJson1.0 or 1.1, as asked
	if ct == "" {
		ct = "application/x-amz-json-1.1"
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(data)
}

func writeJSONError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.code)
	w.WriteHeader(e.status)
	data, _ := json.Marshal(map[string]string{"__type": e.code, "message": e.message})
	_, _ = w.Write(data)
}

// decode unmarshals a JSON request body into v.
func decode(body []byte, v any) *apiError {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return clientError("SerializationException", "%v", err)
	}
	return nil
}

// serveAdmin lets a rehearsal change the twin while a run is going:
//
//	GET  /_twin/calls                                   the call log as JSON
//	POST /_twin/alarm?name=N&state=ALARM&reason=R       set an alarm's state
//	POST /_twin/tag?key=K&value=V                       set (or, with no value, remove) a service tag
//	POST /_twin/fail?op=ListTasks&code=ThrottlingException&n=3
func (tw *Twin) serveAdmin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch r.URL.Path {
	case "/_twin/calls":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(tw.Calls())
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/_twin/alarm":
		state := q.Get("state")
		if q.Get("name") == "" || (state != "OK" && state != "ALARM" && state != "INSUFFICIENT_DATA") {
			http.Error(w, "need name and state=OK|ALARM|INSUFFICIENT_DATA", http.StatusBadRequest)
			return
		}
		tw.SetAlarm(q.Get("name"), state, q.Get("reason"))
	case "/_twin/tag":
		if q.Get("key") == "" {
			http.Error(w, "need key (and value, or none to remove)", http.StatusBadRequest)
			return
		}
		tw.SetTag(q.Get("key"), q.Get("value"))
	case "/_twin/fail":
		n, err := strconv.Atoi(q.Get("n"))
		if err != nil || q.Get("code") == "" {
			http.Error(w, "need code and n (n<0: forever); op optional", http.StatusBadRequest)
			return
		}
		tw.FailCalls(q.Get("op"), q.Get("code"), n)
	default:
		http.NotFound(w, r)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// epochSeconds is how awsJson1.1 sends timestamps: seconds as a float,
// millisecond precision; nil for a zero time.
func epochSeconds(t time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	v := float64(t.UnixMilli()) / 1e3
	return &v
}

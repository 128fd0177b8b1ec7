package ecstwin

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// CloudWatch speaks Smithy RPC v2 CBOR in aws-sdk-go-v2 service/cloudwatch
// v1.75 (api_client.go: rpcv2.NewCBOR): POST
// /service/GraniteServiceVersion20100801/operation/<Op>, CBOR bodies,
// timestamps as tag 1 around epoch seconds, errors as a map with __type and
// message.

func (tw *Twin) serveCBOR(w http.ResponseWriter, r *http.Request, op string) {
	// PutMetricData compresses its body (Smithy requestCompression).
	var src io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			writeCBORError(w, clientError("SerializationException", "gunzip body: %v", err))
			return
		}
		defer zr.Close()
		src = zr
	}
	body, err := io.ReadAll(io.LimitReader(src, 8<<20))
	if err != nil {
		writeCBORError(w, clientError("SerializationException", "read body: %v", err))
		return
	}
	var in cbor.Map
	if len(body) > 0 {
		v, err := cbor.Decode(body)
		if err != nil {
			writeCBORError(w, clientError("SerializationException", "decode CBOR: %v", err))
			return
		}
		m, ok := v.(cbor.Map)
		if !ok {
			writeCBORError(w, clientError("SerializationException", "request body is not a CBOR map"))
			return
		}
		in = m
	}
	input, _ := json.Marshal(cborToJSON(in))
	call := Call{At: time.Now(), Service: "cloudwatch", Operation: op, Input: string(input)}
	var out cbor.Map
	aerr := tw.injectedFailure("cloudwatch", op)
	if aerr == nil {
		out, aerr = tw.cloudWatchOp(op, in)
	}
	if aerr != nil {
		call.Error = aerr.code
		tw.record(call)
		writeCBORError(w, aerr)
		return
	}
	tw.record(call)
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	_, _ = w.Write(cbor.Encode(out))
}

// cloudWatchOp runs one CloudWatch operation on a decoded request; the
// CBOR and the awsJson1.0 front ends share it.
func (tw *Twin) cloudWatchOp(op string, in cbor.Map) (cbor.Map, *apiError) {
	switch op {
	case "PutMetricData":
		return cbor.Map{}, tw.putMetricData(in)
	case "DescribeAlarms":
		return tw.describeAlarms(in), nil
	}
	return nil, clientError("UnknownOperationException", "the ECS twin does not implement cloudwatch:%s", op)
}

// cloudWatchJSON serves CloudWatch over awsJson1.0, which the aws CLI
// (botocore) speaks: same member names, JSON instead of CBOR.
func (tw *Twin) cloudWatchJSON(op string, body []byte) (any, *apiError) {
	var in map[string]any
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	m, _ := jsonToCBOR(in).(cbor.Map)
	out, aerr := tw.cloudWatchOp(op, m)
	if aerr != nil {
		return nil, aerr
	}
	return cborToJSON(out), nil
}

func jsonToCBOR(v any) cbor.Value {
	switch x := v.(type) {
	case map[string]any:
		m := cbor.Map{}
		for k, vv := range x {
			m[k] = jsonToCBOR(vv)
		}
		return m
	case []any:
		l := cbor.List{}
		for _, vv := range x {
			l = append(l, jsonToCBOR(vv))
		}
		return l
	case string:
		return cbor.String(x)
	case float64:
		return cbor.Float64(x)
	case bool:
		return cbor.Bool(x)
	}
	return &cbor.Nil{}
}

func writeCBORError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	// CloudWatch is query-compatible: clients read the awsQuery code here.
	fault := "Sender"
	if e.status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-Query-Error", e.code+";"+fault)
	w.WriteHeader(e.status)
	_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String(e.code), "message": cbor.String(e.message)}))
}

func (tw *Twin) putMetricData(in cbor.Map) *apiError {
	ns := str(in["Namespace"])
	if ns == "" {
		return clientError("MissingParameter", "The parameter Namespace is required.")
	}
	if strings.HasPrefix(ns, "AWS/") {
		return clientError("InvalidParameterValue", "The value AWS/ for parameter Namespace is invalid.")
	}
	data, _ := in["MetricData"].(cbor.List)
	var got []Metric
	for _, d := range data {
		m, _ := d.(cbor.Map)
		metric := Metric{Namespace: ns, Name: str(m["MetricName"]), Unit: str(m["Unit"]), Dimensions: map[string]string{}, Timestamp: time.Now()}
		if metric.Name == "" {
			return clientError("MissingParameter", "The parameter MetricData.member.MetricName is required.")
		}
		if v, ok := num(m["Value"]); ok {
			metric.Value = v
		}
		var ts cbor.Value = m["Timestamp"]
		if tag, ok := ts.(*cbor.Tag); ok && tag.ID == 1 {
			ts = tag.Value // CBOR: tag 1 around epoch seconds; JSON: the number itself
		}
		if secs, ok := num(ts); ok {
			metric.Timestamp = time.UnixMilli(int64(math.Round(secs * 1e3)))
		}
		dims, _ := m["Dimensions"].(cbor.List)
		for _, dv := range dims {
			dm, _ := dv.(cbor.Map)
			metric.Dimensions[str(dm["Name"])] = str(dm["Value"])
		}
		got = append(got, metric)
	}
	tw.mu.Lock()
	tw.metrics = append(tw.metrics, got...)
	tw.mu.Unlock()
	return nil
}

func (tw *Twin) describeAlarms(in cbor.Map) cbor.Map {
	var names []string
	if l, ok := in["AlarmNames"].(cbor.List); ok {
		for _, v := range l {
			names = append(names, str(v))
		}
	}
	prefix, state := str(in["AlarmNamePrefix"]), str(in["StateValue"])
	metricTypes := true
	if l, ok := in["AlarmTypes"].(cbor.List); ok {
		metricTypes = false
		for _, v := range l {
			metricTypes = metricTypes || str(v) == "MetricAlarm"
		}
	}
	alarms := cbor.List{}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	for _, name := range tw.sortedAlarmNames() {
		a := tw.alarms[name]
		if !metricTypes || (len(names) > 0 && !contains(names, name)) || !strings.HasPrefix(name, prefix) || (state != "" && state != a.state) {
			continue
		}
		alarms = append(alarms, cbor.Map{
			"AlarmName":             cbor.String(name),
			"AlarmArn":              cbor.String(fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", tw.cfg.Region, tw.cfg.Account, name)),
			"StateValue":            cbor.String(a.state),
			"StateReason":           cbor.String(a.reason),
			"StateUpdatedTimestamp": cbor.Tag{ID: 1, Value: cbor.Float64(float64(a.updated.UnixMilli()) / 1e3)},
			"ActionsEnabled":        cbor.Bool(true),
		})
	}
	return cbor.Map{"MetricAlarms": alarms, "CompositeAlarms": cbor.List{}}
}

func str(v cbor.Value) string {
	s, _ := v.(cbor.String)
	return string(s)
}

func num(v cbor.Value) (float64, bool) {
	switch n := v.(type) {
	case cbor.Float64:
		return float64(n), true
	case cbor.Float32:
		return float64(n), true
	case cbor.Uint:
		return float64(n), true
	case cbor.NegInt:
		return -float64(n), true
	}
	return 0, false
}

// cborToJSON renders a decoded CBOR value for the call log.
func cborToJSON(v cbor.Value) any {
	switch x := v.(type) {
	case cbor.Map:
		m := make(map[string]any, len(x))
		for k, vv := range x {
			m[k] = cborToJSON(vv)
		}
		return m
	case cbor.List:
		l := make([]any, len(x))
		for i, vv := range x {
			l[i] = cborToJSON(vv)
		}
		return l
	case cbor.String:
		return string(x)
	case cbor.Bool:
		return bool(x)
	case *cbor.Tag:
		return cborToJSON(x.Value)
	case cbor.Tag:
		return cborToJSON(x.Value)
	case cbor.Slice:
		return []byte(x)
	}
	if n, ok := num(v); ok {
		return n
	}
	return nil
}

package ecstwin

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CloudWatch Logs: one log group, one stream per started task named as
// awslogs names it, <prefix>/<container>/<task-id>. Each line the server
// wrote to its --logfile is one event once the task's shipper published it
// (tasklogs.go), stamped with the moment the shipper read it.

type logEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type logStream struct {
	name    string
	logs    *logBuffer
	created time.Time
}

func (tw *Twin) logsOps() map[string]jsonOp {
	return map[string]jsonOp{
		"GetLogEvents":       tw.getLogEvents,
		"FilterLogEvents":    tw.filterLogEvents,
		"DescribeLogStreams": tw.describeLogStreams,
	}
}

func (tw *Twin) streamName(t *task) string {
	return tw.cfg.StreamPrefix + "/" + tw.cfg.Container + "/" + t.id
}

// checkGroup accepts the group's name or ARN (logGroupIdentifier).
func (tw *Twin) checkGroup(name, identifier string) *apiError {
	arn := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", tw.cfg.Region, tw.cfg.Account, tw.cfg.LogGroup)
	for _, g := range []string{name, identifier} {
		if g == tw.cfg.LogGroup || g == arn || g == arn+":*" {
			return nil
		}
	}
	return clientError("ResourceNotFoundException", "The specified log group does not exist.")
}

// streams lists the streams of tasks that have started, oldest first.
func (tw *Twin) streams() []logStream {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	var out []logStream
	for _, t := range tw.tasks {
		if t.srv != nil {
			out = append(out, logStream{name: tw.streamName(t), logs: t.logs, created: t.startedAt})
		}
	}
	return out
}

func (tw *Twin) findStream(name string) (logStream, bool) {
	for _, s := range tw.streams() {
		if s.name == name {
			return s, true
		}
	}
	return logStream{}, false
}

// readEvents returns the stream's published events.
func readEvents(s logStream) ([]logEvent, error) {
	return s.logs.events(), nil
}

func inRange(ts int64, start, end *int64) bool {
	return (start == nil || ts >= *start) && (end == nil || ts < *end)
}

func (tw *Twin) getLogEvents(body []byte) (any, *apiError) {
	var in struct {
		LogGroupName, LogGroupIdentifier, LogStreamName, NextToken string
		StartTime, EndTime                                         *int64
		Limit                                                      int
		StartFromHead                                              bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := tw.checkGroup(in.LogGroupName, in.LogGroupIdentifier); e != nil {
		return nil, e
	}
	s, ok := tw.findStream(in.LogStreamName)
	if !ok {
		return nil, clientError("ResourceNotFoundException", "The specified log stream does not exist.")
	}
	all, err := readEvents(s)
	if err != nil {
		return nil, &apiError{status: 500, code: "ServiceUnavailableException", message: err.Error()}
	}
	var events []logEvent
	for _, e := range all {
		if inRange(e.Timestamp, in.StartTime, in.EndTime) {
			events = append(events, e)
		}
	}
	limit := in.Limit
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	// Tokens are positions: f/N reads forward from N, b/N backward before N.
	// Without a token, startFromHead reads from the start, else the tail.
	from, to := max(0, len(events)-limit), len(events)
	switch {
	case strings.HasPrefix(in.NextToken, "f/"):
		n, err := strconv.Atoi(in.NextToken[2:])
		if err != nil || n < 0 {
			return nil, clientError("InvalidParameterException", "The specified nextToken is invalid.")
		}
		from = min(n, len(events))
		to = min(from+limit, len(events))
	case strings.HasPrefix(in.NextToken, "b/"):
		n, err := strconv.Atoi(in.NextToken[2:])
		if err != nil || n < 0 {
			return nil, clientError("InvalidParameterException", "The specified nextToken is invalid.")
		}
		to = min(n, len(events))
		from = max(0, to-limit)
	case in.NextToken != "":
		return nil, clientError("InvalidParameterException", "The specified nextToken is invalid.")
	case in.StartFromHead:
		from, to = 0, min(limit, len(events))
	}
	page := events[from:to]
	if page == nil {
		page = []logEvent{}
	}
	return map[string]any{
		"events":            page,
		"nextForwardToken":  fmt.Sprintf("f/%d", to),
		"nextBackwardToken": fmt.Sprintf("b/%d", from),
	}, nil
}

func (tw *Twin) filterLogEvents(body []byte) (any, *apiError) {
	var in struct {
		LogGroupName, LogGroupIdentifier, LogStreamNamePrefix, FilterPattern, NextToken string
		LogStreamNames                                                                  []string
		StartTime, EndTime                                                              *int64
		Limit                                                                           int
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := tw.checkGroup(in.LogGroupName, in.LogGroupIdentifier); e != nil {
		return nil, e
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, clientError("InvalidParameterException", "logStreamNames and logStreamNamePrefix are mutually exclusive")
	}
	terms := filterTerms(in.FilterPattern)
	type filtered struct {
		LogStreamName string `json:"logStreamName"`
		Timestamp     int64  `json:"timestamp"`
		Message       string `json:"message"`
		IngestionTime int64  `json:"ingestionTime"`
		EventID       string `json:"eventId"`
	}
	type searched struct {
		LogStreamName      string `json:"logStreamName"`
		SearchedCompletely bool   `json:"searchedCompletely"`
	}
	var matches []filtered
	searchedStreams := []searched{}
	for si, s := range tw.streams() {
		if len(in.LogStreamNames) > 0 && !contains(in.LogStreamNames, s.name) {
			continue
		}
		if !strings.HasPrefix(s.name, in.LogStreamNamePrefix) {
			continue
		}
		events, err := readEvents(s)
		if err != nil {
			return nil, &apiError{status: 500, code: "ServiceUnavailableException", message: err.Error()}
		}
		searchedStreams = append(searchedStreams, searched{LogStreamName: s.name, SearchedCompletely: true})
		for i, e := range events {
			if !inRange(e.Timestamp, in.StartTime, in.EndTime) || !matchesAll(e.Message, terms) {
				continue
			}
			matches = append(matches, filtered{
				LogStreamName: s.name, Timestamp: e.Timestamp, Message: e.Message, IngestionTime: e.IngestionTime,
				EventID: fmt.Sprintf("%020d%04d%08d", e.Timestamp, si, i),
			})
		}
	}
	sort.SliceStable(matches, func(i, j int) bool { return matches[i].Timestamp < matches[j].Timestamp })
	limit := in.Limit
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	from := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 {
			return nil, clientError("InvalidParameterException", "The specified nextToken is invalid.")
		}
		from = min(n, len(matches))
	}
	to := min(from+limit, len(matches))
	out := map[string]any{"events": append([]filtered{}, matches[from:to]...), "searchedLogStreams": searchedStreams}
	if to < len(matches) {
		out["nextToken"] = strconv.Itoa(to)
	}
	return out, nil
}

// filterTerms splits a simple filter pattern into terms that must all
// appear: quoted phrases ("DB loaded") and bare words. JSON and metric
// filter syntax are not supported by the twin.
func filterTerms(pattern string) []string {
	var terms []string
	for rest := strings.TrimSpace(pattern); rest != ""; rest = strings.TrimSpace(rest) {
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				terms = append(terms, rest[1:])
				break
			}
			terms = append(terms, rest[1:1+end])
			rest = rest[end+2:]
			continue
		}
		word, after, _ := strings.Cut(rest, " ")
		terms = append(terms, word)
		rest = after
	}
	return terms
}

func matchesAll(msg string, terms []string) bool {
	for _, t := range terms {
		if !strings.Contains(msg, t) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (tw *Twin) describeLogStreams(body []byte) (any, *apiError) {
	var in struct {
		LogGroupName, LogGroupIdentifier, LogStreamNamePrefix, OrderBy string
		Descending                                                     bool
		Limit                                                          int
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := tw.checkGroup(in.LogGroupName, in.LogGroupIdentifier); e != nil {
		return nil, e
	}
	type wireStream struct {
		LogStreamName       string `json:"logStreamName"`
		Arn                 string `json:"arn"`
		CreationTime        int64  `json:"creationTime"`
		FirstEventTimestamp *int64 `json:"firstEventTimestamp,omitempty"`
		LastEventTimestamp  *int64 `json:"lastEventTimestamp,omitempty"`
		LastIngestionTime   *int64 `json:"lastIngestionTime,omitempty"`
		StoredBytes         int64  `json:"storedBytes"`
	}
	out := []wireStream{}
	for _, s := range tw.streams() {
		if !strings.HasPrefix(s.name, in.LogStreamNamePrefix) {
			continue
		}
		ws := wireStream{
			LogStreamName: s.name,
			Arn:           fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:log-stream:%s", tw.cfg.Region, tw.cfg.Account, tw.cfg.LogGroup, s.name),
			CreationTime:  s.created.UnixMilli(),
		}
		events, err := readEvents(s)
		if err != nil {
			return nil, &apiError{status: 500, code: "ServiceUnavailableException", message: err.Error()}
		}
		if len(events) > 0 {
			first, last := events[0].Timestamp, events[len(events)-1].Timestamp
			ws.FirstEventTimestamp, ws.LastEventTimestamp, ws.LastIngestionTime = &first, &last, &last
		}
		out = append(out, ws)
	}
	lastEvent := func(s wireStream) int64 {
		if s.LastEventTimestamp == nil {
			return 0
		}
		return *s.LastEventTimestamp
	}
	sort.SliceStable(out, func(i, j int) bool {
		if in.OrderBy == "LastEventTime" {
			return lastEvent(out[i]) < lastEvent(out[j])
		}
		return out[i].LogStreamName < out[j].LogStreamName
	})
	if in.Descending {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	if in.Limit > 0 && len(out) > in.Limit {
		out = out[:in.Limit]
	}
	return map[string]any{"logStreams": out}, nil
}

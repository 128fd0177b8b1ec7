package terraform

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// twinContainerFile is the module's Valkey container with the harness
// user (allowed to crash) and TLS from secrets: its command, environment
// and secrets, rendered here. The ECS twin runs exactly this in
// cmd/valkey-chaos's thresholds test, so a change to the module's start-up
// shows in that file (go test ./terraform -update rewrites it).
const twinContainerFile = "testdata/valkey-container-auth-tls.json"

// twinContainerOverrides are the module inputs of twinContainerFile.
func twinContainerOverrides() map[string]cty.Value {
	in := authOverrides()
	in["harness_may_crash"] = cty.True
	in["tls_enabled"] = cty.True
	in["tls_cert_secret_arn"] = cty.StringVal("arn:aws:secretsmanager:eu-west-1:123456789012:secret:cert-AbCdEf")
	in["tls_key_secret_arn"] = cty.StringVal("arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbCdEf")
	return in
}

func TestTwinContainerIsTheModulesContainer(t *testing.T) {
	c := valkeyContainer(t, loadModule(t, valkeyDir), twinContainerOverrides())
	out := struct {
		Command     []string          `json:"command"`
		Environment map[string]string `json:"environment"`
		Secrets     map[string]string `json:"secrets"`
	}{Command: stringList(t, c["command"]), Environment: map[string]string{}, Secrets: map[string]string{}}
	for _, e := range c["environment"].([]any) {
		e := e.(map[string]any)
		out.Environment[e["name"].(string)] = e["value"].(string)
	}
	for _, s := range c["secrets"].([]any) {
		s := s.(map[string]any)
		out.Secrets[s["name"].(string)] = s["valueFrom"].(string)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the script's > and & as written
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	want := buf.Bytes()
	if *update {
		if err := os.WriteFile(filepath.FromSlash(twinContainerFile), want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.FromSlash(twinContainerFile))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s is not the module's container (%v): run go test ./terraform -run TestTwinContainer -update", twinContainerFile, err)
	}
}

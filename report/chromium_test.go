package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// screenshotCopy is where the rendered page is kept for human review.
const screenshotCopy = "/tmp/report-screenshot.png"

func chromiumBinary() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// runChromium runs headless Chromium on a local file with the network and
// background services off, returning stdout and stderr.
func runChromium(t *testing.T, bin string, extra ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
	}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, errb.String())
	}
	return out.String(), errb.String()
}

// consoleLines are the page's console messages as Chromium logs them
// ("...:INFO:CONSOLE(12)] ..."), ignoring Chromium's own noise (D-Bus).
func consoleLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "CONSOLE") {
			out = append(out, l)
		}
	}
	return out
}

// probeScript records console errors and uncaught exceptions from the start
// of the page, and after load writes into the title how many images decoded.
const probeScript = `<script>
window.__errs = [];
window.addEventListener("error", function (e) { window.__errs.push(String(e.message || e.type)); }, true);
var __ce = console.error; console.error = function () { window.__errs.push(Array.prototype.join.call(arguments, " ")); __ce.apply(console, arguments); };
window.addEventListener("load", function () {
  var imgs = document.images, broken = [];
  for (var i = 0; i < imgs.length; i++) {
    if (!imgs[i].complete || imgs[i].naturalWidth === 0) { broken.push(imgs[i].alt); }
  }
  document.title = "PROBE images=" + imgs.length + " broken=" + broken.length + " errors=" + window.__errs.length + " | " + broken.concat(window.__errs).join("; ");
});
</script>`

// TestHTMLRendersInChromium opens report.html the way a reader would: every
// embedded image must decode and the page must log no error. The rendered
// page is saved as a PNG for review.
func TestHTMLRendersInChromium(t *testing.T) {
	bin := chromiumBinary()
	if bin == "" {
		t.Skip("chromium not found: install the Debian package as root (apt-get install -y chromium); make test does this")
	}
	dir := renderedFixture(t)
	page := filepath.Join(dir, HTMLFile)
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}

	// A copy with the probe injected first thing in <head>.
	probed := strings.Replace(string(html), "<head>", "<head>\n"+probeScript, 1)
	probePage := filepath.Join(t.TempDir(), "probe.html") // the page needs no other file; the shared render stays as drawn
	if err := os.WriteFile(probePage, []byte(probed), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, stderr := runChromium(t, bin, "--virtual-time-budget=10000", "--dump-dom", "file://"+probePage)
	m := regexp.MustCompile(`<title>PROBE images=(\d+) broken=(\d+) errors=(\d+) \|([^<]*)</title>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the probe did not run (no PROBE title in the dumped DOM); stderr:\n%s", stderr)
	}
	if m[1] != "11" || m[2] != "0" || m[3] != "0" {
		t.Errorf("images=%s (want 11) broken=%s errors=%s: %s", m[1], m[2], m[3], m[4])
	}
	if c := consoleLines(stderr); len(c) > 0 {
		t.Errorf("console output while loading the report:\n%s", strings.Join(c, "\n"))
	}

	// The page as a reader sees it, saved for review.
	shot := filepath.Join(t.TempDir(), "report.png")
	_, stderr = runChromium(t, bin, "--hide-scrollbars", "--screenshot="+shot, "--window-size=1280,4000", "file://"+page)
	if c := consoleLines(stderr); len(c) > 0 {
		t.Errorf("console output while rendering the screenshot:\n%s", strings.Join(c, "\n"))
	}
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, stderr)
	}
	if w, h := decodePNG(t, "screenshot", data); w != 1280 || h != 4000 {
		t.Errorf("screenshot %dx%d, want 1280x4000", w, h)
	}
	if err := os.WriteFile(screenshotCopy, data, 0o644); err != nil {
		t.Logf("could not keep a copy at %s: %v", screenshotCopy, err)
	}
	t.Logf("screenshot: %s (copy at %s)", shot, screenshotCopy)
}

// The probe itself must see a broken image and a console error, or a pass
// above would prove nothing (a negative control).
func TestChromiumProbeCatchesBrokenPages(t *testing.T) {
	bin := chromiumBinary()
	if bin == "" {
		t.Skip("chromium not found: install the Debian package as root (apt-get install -y chromium); make test does this")
	}
	page := filepath.Join(t.TempDir(), "broken.html")
	html := "<!DOCTYPE html><html><head>" + probeScript + `<title>x</title></head><body>
<img alt="bad" src="data:image/png;base64,bm90IGEgcG5n">
<script>console.error("boom");</script></body></html>`
	if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, stderr := runChromium(t, bin, "--virtual-time-budget=10000", "--dump-dom", "file://"+page)
	// errors=2: the failed image load and console.error.
	if !strings.Contains(dom, "PROBE images=1 broken=1 errors=2") {
		t.Fatalf("probe missed the broken image or the error:\n%s", dom)
	}
	if len(consoleLines(stderr)) == 0 {
		t.Fatalf("console.error did not reach Chromium's log; stderr:\n%s", stderr)
	}
}

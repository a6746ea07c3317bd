# metricslint: Prometheus' own text-format parser (prometheus/common expfmt) and linter
# (client_golang promlint, what `promtool check metrics` runs) in one small binary, built
# from the Go module proxy. Reads an exposition on stdin, prints JSON; exit 1 on a parse error.
# (promtool itself drags in every service-discovery SDK; this is the same code path, 2 modules.)
METRICSLINT_CLIENT_GOLANG="${METRICSLINT_CLIENT_GOLANG:-v1.25.0}"
METRICSLINT_COMMON="${METRICSLINT_COMMON:-v0.72.0}"  # v0.73 needs a module the proxy no longer serves
# shellcheck source=lib/go.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh"

install_metricslint() {
  # the suffix names this program's revision, so a changed program is rebuilt
  local dir="$BPM_TOOLS/metricslint-$METRICSLINT_CLIENT_GOLANG-$METRICSLINT_COMMON-r2" bin go work
  bin="$dir/metricslint"
  if [ ! -x "$bin" ]; then
    go="$(go_bin)"
    go_env
    work="$(mktemp -d)"
    log "building metricslint (client_golang $METRICSLINT_CLIENT_GOLANG, common $METRICSLINT_COMMON) from the Go module proxy"
    cat >"$work/go.mod" <<EOF
module bpm.local/metricslint

go 1.24
EOF
    cat >"$work/main.go" <<'EOF'
// metricslint parses a Prometheus text exposition strictly and lints it like `promtool check metrics`.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// number is a sample value: a JSON number, or "NaN" / "+Inf" / "-Inf" (valid in the text format, not in JSON).
type number float64

func (n number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return []byte(strconv.FormatFloat(f, 'g', -1, 64)), nil
}

type series struct {
	Labels  map[string]string `json:"labels"`
	Value   number            `json:"value"`
	Count   uint64            `json:"count,omitempty"`
	Sum     number            `json:"sum,omitempty"`
	Buckets int               `json:"buckets,omitempty"`
}

type family struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Help   string   `json:"help"`
	Series []series `json:"series"`
}

type problem struct {
	Metric string `json:"metric"`
	Text   string `json:"text"`
}

func main() {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parse error:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(mfs))
	for n := range mfs {
		names = append(names, n)
	}
	sort.Strings(names)
	out := struct {
		Families []family  `json:"families"`
		Problems []problem `json:"problems"`
	}{Families: []family{}, Problems: []problem{}}
	list := make([]*dto.MetricFamily, 0, len(names))
	for _, n := range names {
		mf := mfs[n]
		list = append(list, mf)
		f := family{Name: n, Type: strings.ToLower(mf.GetType().String()), Help: mf.GetHelp(), Series: []series{}}
		seen := map[string]bool{}
		for _, m := range mf.GetMetric() {
			s := series{Labels: map[string]string{}}
			keys := []string{}
			for _, lp := range m.GetLabel() {
				s.Labels[lp.GetName()] = lp.GetValue()
				keys = append(keys, lp.GetName()+"="+lp.GetValue())
			}
			sort.Strings(keys)
			sig := strings.Join(keys, ",")
			// the text parser leaves duplicate series to the caller; a scrape with them is broken
			if seen[sig] {
				fmt.Fprintf(os.Stderr, "parse error: duplicate series %s{%s}\n", n, sig)
				os.Exit(1)
			}
			seen[sig] = true
			switch {
			case m.Counter != nil:
				s.Value = number(m.Counter.GetValue())
			case m.Gauge != nil:
				s.Value = number(m.Gauge.GetValue())
			case m.Untyped != nil:
				s.Value = number(m.Untyped.GetValue())
			case m.Histogram != nil:
				s.Count, s.Sum, s.Buckets = m.Histogram.GetSampleCount(), number(m.Histogram.GetSampleSum()), len(m.Histogram.GetBucket())
			case m.Summary != nil:
				s.Count, s.Sum = m.Summary.GetSampleCount(), number(m.Summary.GetSampleSum())
			}
			f.Series = append(f.Series, s)
		}
		out.Families = append(out.Families, f)
	}
	problems, err := promlint.NewWithMetricFamilies(list).Lint()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lint error:", err)
		os.Exit(1)
	}
	for _, p := range problems {
		out.Problems = append(out.Problems, problem{Metric: p.Metric, Text: p.Text})
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
EOF
    mkdir -p "$dir"
    (
      cd "$work"
      "$go" get "github.com/prometheus/client_golang@$METRICSLINT_CLIENT_GOLANG" "github.com/prometheus/common@$METRICSLINT_COMMON" >&2
      "$go" mod tidy >&2
      "$go" build -p "$BPM_GO_P" -trimpath -ldflags="-s -w" -o "$bin.tmp" . >&2
    )
    mv "$bin.tmp" "$bin"
    rm -rf "$work"
  fi
  ln -sf "$bin" "$BPM_TOOLS/bin/metricslint"
  echo "$bin"
}

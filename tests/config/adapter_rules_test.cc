// prometheus-adapter's `rules`, `externalRules` and `resourceRules` in the adapter's config file,
// and the Go template subset their queries use.

#include "absl/strings/str_cat.h"
#include "config/config.h"
#include "config/go_template.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::config {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string_view> kFields = {"Series", "LabelMatchers", "GroupBy"};

std::string RenderAll(std::string_view text) {
  auto t = GoTemplate::Parse(text, kFields);
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return "";
  return t->Render({{"Series", "http_requests_total"},
                    {"LabelMatchers", "namespace=\"ns\""},
                    {"GroupBy", "namespace, pod"}});
}

TEST(GoTemplateTest, RendersFieldsWithSpacesAndTrimMarkers) {
  EXPECT_EQ(RenderAll("sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)"),
            "sum(rate(http_requests_total{namespace=\"ns\"}[2m])) by (namespace, pod)");
  EXPECT_EQ(RenderAll("x{<< .LabelMatchers >>}"), "x{namespace=\"ns\"}");
  // Go: "<<- " trims white space before the action, " ->>" after it.
  EXPECT_EQ(RenderAll("sum(\n  <<- .Series ->>\n  {a=\"b\"})"),
            "sum(http_requests_total{a=\"b\"})");
  EXPECT_EQ(RenderAll("no actions"), "no actions");
  EXPECT_EQ(RenderAll(""), "");
  // "<<-3>>" is not a trim marker (no space after '-'): the number -3, as in Go.
  EXPECT_EQ(*GoTemplate::Parse("x <<-3>>", kFields)->Execute({}), "x -3");
}

TEST(GoTemplateTest, StagedRenderingKeepsMissingFieldsCanonical) {
  auto t =
      GoTemplate::Parse("sum(<< .Series >>{<<.LabelMatchers>>}) by (<<- .GroupBy >>)", kFields);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Render({{"Series", "up"}}), "sum(up{<<.LabelMatchers>>}) by (<<.GroupBy>>)");
  EXPECT_TRUE(t->Uses("Series"));
  EXPECT_FALSE(GoTemplate::Parse("x", kFields)->Uses("Series"));
}

TEST(GoTemplateTest, RejectsEverythingOutsideTheSubsetNamingLineAndConstruct) {
  struct Case {
    std::string text;
    std::string construct;
    int line;
  };
  for (const Case& c : std::vector<Case>{
           {"x\ny{<<.LabelMatchers | printf \"%s\">>}", "<<.LabelMatchers | printf", 2},
           {"a\nb\n<<printf \"%s\" .Series>>", "<<printf", 3},
           {"<<.Resource>>", "<<.Resource>>", 1},
           {"<<.series>>", "<<.series>>", 1},
           {"<<.Series.Name>>", "<<.Series.Name>>", 1},
           {"<<template \"x\">>", "<<template", 1},
           {"<<define \"x\">>y<<end>>", "<<define", 1},
           {"<<range .GroupBy>><<break>><<end>>", "<<break>>", 1},
           {"<<.Series .GroupBy>>", "<<.Series .GroupBy>>", 1},
           {"<<index>>", "<<index>>", 1},
           {"<<else>>", "<<else>>", 1},
       }) {
    auto t = GoTemplate::Parse(c.text, kFields);
    ASSERT_FALSE(t.ok()) << c.text;
    std::string message(t.status().message());
    EXPECT_THAT(message, HasSubstr(absl::StrCat("line ", c.line, ": "))) << c.text;
    EXPECT_THAT(message, HasSubstr(c.construct)) << c.text;
  }
  auto t = GoTemplate::Parse("x\n{<<.Series", kFields);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("line 2: unterminated template action"));
  t = GoTemplate::Parse("x\n<<printf \"%s\" .Series>>", kFields);
  EXPECT_EQ(t.status().message(),
            "line 2: unsupported template construct \"<<printf \\\"%s\\\" .Series>>\"; supported "
            "here: <<.Series>>, <<.LabelMatchers>>, <<.GroupBy>>, if/else/with/range/end, "
            "$variables, index, len, not, and, or, eq, ne, lt, le, gt, ge (function \"printf\" is "
            "not supported)");
  for (const auto& [text, problem] : std::vector<std::pair<std::string, std::string>>{
           {"a\n<<range .GroupBy>>x", "line 2: <<range>> without <<end>>"},
           {"<<if .GroupBy>>x<<else>>y", "line 1: <<if>> ... <<else>> without <<end>>"},
           {"x<<end>>", "line 1: unexpected <<end>>"},
           {"<<$x>>", "line 1: undefined variable \"$x\""},
           {"<<range $i, $v := .GroupBy>><<end>><<$v>>", "line 1: undefined variable \"$v\""},
       }) {
    auto bad = GoTemplate::Parse(text, kFields);
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_THAT(std::string(bad.status().message()), HasSubstr(problem)) << text;
  }
}

// prometheus-adapter's template data: GroupBySlice is a list, LabelValuesByName a map (label ->
// values joined by "|"), printed as Go prints them.
const std::vector<std::string_view> kAllFields = {"Series", "LabelMatchers", "GroupBy",
                                                  "GroupBySlice", "LabelValuesByName"};
TemplateData Data() {
  return {{"Series", "http_requests_total"},
          {"LabelMatchers", "namespace=~\"a|b\""},
          {"GroupBy", "namespace, pod"},
          {"GroupBySlice", TemplateValue::List({"namespace", "pod"})},
          {"LabelValuesByName", TemplateValue::Map({{"namespace", "a|b"}, {"pod", ".+"}})}};
}
std::string RunTemplate(std::string_view text) {
  auto t = GoTemplate::Parse(text, kAllFields);
  if (!t.ok()) return absl::StrCat("parse error: ", t.status().message());
  auto out = t->Execute(Data());
  if (!out.ok()) return absl::StrCat("error: ", out.status().message());
  return *out;
}

TEST(GoTemplateTest, RangeIfIndexAndVariablesAsGo) {
  // Printed as Go's fmt prints a slice and a map.
  EXPECT_EQ(RunTemplate("<<.GroupBySlice>> <<.LabelValuesByName>>"),
            "[namespace pod] map[namespace:a|b pod:.+]");
  // join-like: a comma between elements.
  EXPECT_EQ(
      RunTemplate("sum by (<<range $i, $l := .GroupBySlice>><<if $i>>,<<end>><<$l>><<end>>) (x)"),
      "sum by (namespace,pod) (x)");
  EXPECT_EQ(RunTemplate("by (<<range .GroupBySlice>><<.>>,<<end>>instance)"),
            "by (namespace,pod,instance)");
  EXPECT_EQ(RunTemplate("<<range $l := .GroupBySlice>>[<<$l>>]<<end>>"), "[namespace][pod]");
  // Maps range in key order; $ and $.Field reach the data inside range.
  EXPECT_EQ(RunTemplate("x{<<range $k, $v := .LabelValuesByName>><<$k>>=~\"<<$v>>\",<<end>>"
                        "__name__=\"<<$.Series>>\"}"),
            "x{namespace=~\"a|b\",pod=~\".+\",__name__=\"http_requests_total\"}");
  EXPECT_EQ(
      RunTemplate("<<index .LabelValuesByName \"namespace\">>|<<index .LabelValuesByName \"x\">>|"
                  "<<index .GroupBySlice 1>>|<<len .GroupBySlice>>"),
      "a|b||pod|2");
  EXPECT_EQ(
      RunTemplate("<<if eq (len .GroupBySlice) 2>>two<<else if eq 1 1>>one<<else>>none<<end>>"),
      "two");
  EXPECT_EQ(
      RunTemplate("<<if not .LabelMatchers>>a<<else if and .Series (ne .GroupBy \"\")>>b<<end>>"),
      "b");
  EXPECT_EQ(
      RunTemplate("<<with index .LabelValuesByName \"pod\">>pod=~\"<<.>>\"<<else>>none<<end>>"),
      "pod=~\".+\"");
  EXPECT_EQ(RunTemplate("<<$g := .GroupBy>><<$g = \"job\">>by (<<$g>>)"), "by (job)");
  EXPECT_EQ(RunTemplate("<<range .GroupBySlice>>x<<else>>empty<<end>><</* note */>>"), "xx");
  EXPECT_EQ(RunTemplate("a <<- /* trimmed */ ->> b"), "ab");
  EXPECT_EQ(RunTemplate("<<index .LabelValuesByName \">>\">>."), ".");  // ">>" inside a string
  // Run-time errors, with the line.
  EXPECT_EQ(RunTemplate("\n<<index .GroupBySlice 5>>"), "error: line 2: index out of range: 5");
  EXPECT_EQ(RunTemplate("<<if eq .GroupBy 1>><<end>>"),
            "error: line 1: incompatible types for comparison: string and int");
  EXPECT_EQ(RunTemplate("<<range .GroupBySlice>><<.Series>><<end>>"),
            "error: line 1: can't evaluate field Series in type string (inside range or with, "
            "write $.Series)");
  EXPECT_EQ(RunTemplate("<<range .Series>><<end>>"),
            "error: line 1: range can't iterate over string");
  EXPECT_EQ(RunTemplate("<<$>>"),
            "error: line 1: the data itself cannot be printed; name one of its "
            "fields");
}

TEST(GoTemplateTest, BoundedOutputAndSteps) {
  auto t = GoTemplate::Parse(
      "<<range .GroupBySlice>><<range $.GroupBySlice>><<range $.GroupBySlice>>"
      "<<$.LabelMatchers>><<end>><<end>><<end>>",
      kAllFields);
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<std::string> many(100, "l");
  TemplateData data = Data();
  data["GroupBySlice"] = TemplateValue::List(many);
  auto out = t->Execute(data);  // 10^6 iterations: stopped by the step bound
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("steps"));
  out = t->Execute(Data(), 100);  // 8 x 16 bytes
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("would exceed 100 bytes"));
  EXPECT_TRUE(t->Execute(Data(), 128).ok());
  // Nesting is bounded at parse time.
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "<<if .Series>>";
  for (int i = 0; i < 40; ++i) deep += "<<end>>";
  EXPECT_THAT(std::string(GoTemplate::Parse(deep, kAllFields).status().message()),
              HasSubstr("nest more than 32 deep"));
}

TEST(GoTemplateTest, StagedRenderingWritesBlocksBack) {
  auto t = GoTemplate::Parse(
      "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<range $i, $l := .GroupBySlice>><<if $i>>,<<end>>"
      "<<$l>><<end>>)",
      kAllFields);
  ASSERT_TRUE(t.ok()) << t.status();
  std::string staged = t->Render({{"Series", "up"}});
  EXPECT_EQ(staged,
            "sum(up{<<.LabelMatchers>>}) by (<<range $i, $l := .GroupBySlice>><<if $i>>,<<end>>"
            "<<$l>><<end>>)");
  auto again = GoTemplate::Parse(staged, kAllFields);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->Execute(Data()), "sum(up{namespace=~\"a|b\"}) by (namespace,pod)");
  EXPECT_TRUE(t->Uses("GroupBySlice"));
  EXPECT_FALSE(t->Uses("LabelValuesByName"));
  EXPECT_TRUE(
      GoTemplate::Parse("<<range .GroupBySlice>><<$.Series>><<end>>", kAllFields)->Uses("Series"));
}

TEST(AdapterRulesConfigTest, PrometheusAdapterFileLoadsAsIs) {
  auto c =
      LoadConfigFile(std::string(AA_SOURCE_DIR) + "/tests/testdata/prometheus-adapter/config.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->rules.size(), 5u);
  const AdapterRule& r0 = c->rules[0];
  EXPECT_EQ(r0.path, "rules[0]");
  EXPECT_EQ(r0.line, 5);
  EXPECT_FALSE(r0.external);
  EXPECT_EQ(r0.series_query,
            "{__name__=~\"^container_.*_seconds_total$\",container!=\"POD\",namespace!=\"\","
            "pod!=\"\"}");
  EXPECT_TRUE(r0.series_filters.empty());
  EXPECT_EQ(r0.resources.overrides.at("namespace").resource, "namespace");
  EXPECT_EQ(r0.resources.overrides.at("pod").resource, "pod");
  EXPECT_EQ(r0.name_matches, "^container_(.*)_seconds_total$");
  EXPECT_EQ(r0.name_as, "");
  const AdapterRule& r1 = c->rules[1];
  ASSERT_EQ(r1.series_filters.size(), 1u);
  EXPECT_FALSE(r1.series_filters[0].is);
  EXPECT_EQ(r1.series_filters[0].regex, ".*_total$");
  EXPECT_EQ(r1.resources.label_template, "<<.Resource>>");
  EXPECT_EQ(r1.name_matches, ".*");  // "" means prometheus-adapter's default
  EXPECT_EQ(c->rules[2].name_as, "${1}_per_second");
  EXPECT_EQ(c->rules[3].resources.overrides.at("deployment").group, "apps");
  EXPECT_TRUE(c->rules[4].external);
  EXPECT_EQ(c->rules[4].path, "externalRules[0]");
  ASSERT_TRUE(c->resource_rules.has_value());
  EXPECT_EQ(c->resource_rules->window, absl::Minutes(1));
  EXPECT_EQ(c->resource_rules->cpu.container_label, "container");
  // resourceRules feed metrics.k8s.io: per container and per node, and the per-pod "cpu" and
  // "memory" definitions.
  std::vector<std::string> keys;
  for (const auto& d : c->metrics) keys.push_back(d.Key());
  EXPECT_THAT(keys, ::testing::ElementsAre("containers/cpu", "nodemetrics/cpu", "containers/memory",
                                           "nodemetrics/memory", "cpu", "memory"));
  const MetricDefinition& containers = c->metrics[0];
  EXPECT_EQ(containers.rule, "resourceRules.cpu");
  EXPECT_EQ(containers.container_label, "container");
  EXPECT_EQ(containers.namespace_label, "namespace");
  EXPECT_EQ(containers.pod_label, "pod");
  EXPECT_THAT(containers.query, HasSubstr("sum by (<<.GroupBy>>) ("));
  EXPECT_THAT(containers.query, HasSubstr("container!=\"POD\",<<.LabelMatchers>>}[1m])"));
  const MetricDefinition& nodes = c->metrics[1];
  EXPECT_EQ(nodes.namespace_label, "");
  EXPECT_EQ(nodes.pod_label, "node");
  EXPECT_EQ(nodes.query,
            "sum(rate(container_cpu_usage_seconds_total{<<.LabelMatchers>>, id='/'}[1m])) by "
            "(<<.GroupBy>>)");
  EXPECT_EQ(c->FindMetric("cpu")->rule, "resourceRules.cpu");
  EXPECT_EQ(c->FindMetric("cpu")->container_label, "");
  EXPECT_EQ(c->FindMetric("cpu")->query, containers.query);
  EXPECT_EQ(c->discovery_interval, absl::Minutes(10));
}

TEST(AdapterRulesConfigTest, RulesNextToMetricsAndDiscoveryInterval) {
  auto c = ParseConfig(R"yaml(
discovery: {interval: 30s}
metrics:
- name: m
  query: 'up{<<.LabelMatchers>>}'
rules:
- seriesQuery: 'http_requests_total{namespace!=""}'
  resources: {template: "<<.Resource>>"}
  metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)'
)yaml",
                       "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics.size(), 1u);  // no resourceRules: no cpu/memory added
  EXPECT_EQ(c->rules.size(), 1u);
  EXPECT_EQ(c->discovery_interval, absl::Seconds(30));
}

std::string ErrorOf(std::string_view yaml) {
  auto c = ParseConfig(yaml, "t.yaml");
  if (c.ok()) {
    ADD_FAILURE() << "parsed, expected an error:\n" << yaml;
    return "";
  }
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

TEST(AdapterRulesConfigTest, UnsupportedTemplateConstructNamesFileLineAndConstruct) {
  EXPECT_THAT(ErrorOf("rules:\n"
                      "- seriesQuery: 'x'\n"
                      "  metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<range "
                      ".GroupBySlice>><<. | printf \"%s\">><<end>>)'\n"),
              HasSubstr("t.yaml:3: rules[0].metricsQuery: unsupported template construct \"<<. | "
                        "printf \\\"%s\\\">>\"; supported here: <<.Series>>, <<.LabelMatchers>>, "
                        "<<.GroupBy>>, <<.GroupBySlice>>, <<.LabelValuesByName>>"));
  // In a block scalar: the line of the construct itself.
  EXPECT_THAT(ErrorOf("rules:\n"
                      "- seriesQuery: 'x'\n"
                      "  metricsQuery: |\n"
                      "    sum(<<.Series>>{<<.LabelMatchers>>})\n"
                      "      by (<<index .LabelValuesByName \"pod\" | len>>)\n"),
              HasSubstr("t.yaml:5: rules[0].metricsQuery: unsupported template construct "
                        "\"<<index .LabelValuesByName \\\"pod\\\" | len>>\""));
  EXPECT_THAT(ErrorOf("rules:\n"
                      "- seriesQuery: 'x'\n"
                      "  metricsQuery: |\n"
                      "    sum(<<.Series>>{<<.LabelMatchers>>})\n"
                      "      by (<<range .GroupBySlice>><<.>>)\n"),
              HasSubstr("t.yaml:5: rules[0].metricsQuery: <<range>> without <<end>>"));
  EXPECT_THAT(ErrorOf("externalRules:\n"
                      "- seriesQuery: 'x'\n"
                      "  resources: {template: '<<.Resource | lower>>'}\n"
                      "  metricsQuery: 'x{<<.LabelMatchers>>}'\n"),
              HasSubstr("t.yaml:3: externalRules[0].resources.template: unsupported template "
                        "construct \"<<.Resource | lower>>\"; supported here: <<.Group>>, "
                        "<<.Resource>>"));
  // resourceRules' containerQuery still needs <<.LabelMatchers>>; rules' metricsQuery does not.
  EXPECT_THAT(ErrorOf("resourceRules:\n  cpu: {containerQuery: 'sum(x)'}\n"),
              HasSubstr("resourceRules.cpu.containerQuery: must contain <<.LabelMatchers>>"));
  auto c = ParseConfig("rules:\n- seriesQuery: 'x'\n  metricsQuery: 'count(<<.Series>>)'\n", "t");
  EXPECT_TRUE(c.ok()) << c.status();
}

TEST(AdapterRulesConfigTest, BadRulesAreRejectedWithTheField) {
  const std::string q = "  metricsQuery: 'x{<<.LabelMatchers>>}'\n";
  EXPECT_THAT(ErrorOf("rules:\n- metricsQuery: 'x{<<.LabelMatchers>>}'\n"),
              HasSubstr("rules[0].seriesQuery: required"));
  EXPECT_THAT(ErrorOf("rules:\n- seriesQuery: x\n"), HasSubstr("rules[0].metricsQuery: required"));
  EXPECT_THAT(ErrorOf("rules:\n- seriesQuery: x\n  seriesFilters: [{is: a, isNot: b}]\n" + q),
              HasSubstr("rules[0].seriesFilters[0]: exactly one of is and isNot is required"));
  EXPECT_THAT(ErrorOf("rules:\n- seriesQuery: x\n  seriesFilters: [{isNot: '(a'}]\n" + q),
              HasSubstr("rules[0].seriesFilters[0].isNot: invalid regular expression"));
  EXPECT_THAT(ErrorOf("rules:\n- seriesQuery: x\n  name: {matches: '(a)(b)'}\n" + q),
              HasSubstr("rules[0].name.as: required when name.matches has more than one capture "
                        "group"));
  EXPECT_THAT(ErrorOf("rules:\n- seriesQuery: x\n  bogus: 1\n" + q),
              HasSubstr("rules[0].bogus: unknown field"));
  EXPECT_THAT(ErrorOf("rules:\n- seriesQuery: x\n  resources: {namespaced: false}\n" + q),
              HasSubstr("rules[0].resources.namespaced: unknown field"));
  EXPECT_THAT(
      ErrorOf("rules:\n- seriesQuery: x\n  resources: {overrides: {pod: {group: x}}}\n" + q),
      HasSubstr("rules[0].resources.overrides.pod.resource: required"));
  EXPECT_THAT(ErrorOf("resourceRules:\n  cpu: {containerQuery: 'x{<<.LabelMatchers>>}'}\n"),
              HasSubstr("resourceRules.memory: required when resourceRules is set"));
  EXPECT_THAT(ErrorOf("discovery: {interval: 1s}\nrules: []\nmetrics: []\n"),
              HasSubstr("discovery.interval: must be at least 10s"));
  EXPECT_THAT(ErrorOf("rules: []\n"), HasSubstr("metrics: at least one metric"));
}

// tests/migration/: prometheus-adapter configs as its docs and Helm chart show them.
TEST(AdapterRulesConfigTest, MigrationConfigsFromPrometheusAdapterDocsAndChartLoad) {
  const std::string dir = std::string(AA_SOURCE_DIR) + "/tests/migration/";
  auto sample = LoadConfigFile(dir + "prometheus-adapter-sample.yaml");
  ASSERT_TRUE(sample.ok()) << sample.status();
  ASSERT_EQ(sample->rules.size(), 6u);
  EXPECT_EQ(sample->rules[3].metrics_query, "count(cheddar{sharp=\"true\"})");
  EXPECT_EQ(sample->rules[3].name_as, "cheesy_goodness");
  EXPECT_EQ(sample->rules[3].resources.overrides.at("brand").group, "cheese.io");
  EXPECT_TRUE(sample->rules[4].external);
  EXPECT_TRUE(sample->rules[4].resources.namespaced);
  EXPECT_EQ(sample->rules[5].path, "externalRules[1]");
  EXPECT_FALSE(sample->rules[5].resources.namespaced);

  // Upstream's quoting: not YAML; the error names the line and column of the first bare quote's
  // consequence.
  auto unquoted = LoadConfigFile(dir + "prometheus-adapter-sample-unquoted.yaml");
  ASSERT_FALSE(unquoted.ok());
  EXPECT_EQ(unquoted.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unquoted.status().message()),
              HasSubstr("prometheus-adapter-sample-unquoted.yaml:14:70: YAML syntax error: end of "
                        "map not found"));

  auto chart = LoadConfigFile(dir + "prometheus-adapter-chart-default-rules.yaml");
  ASSERT_TRUE(chart.ok()) << chart.status();
  ASSERT_EQ(chart->rules.size(), 6u);
  // The folded query line reads as one line with a space.
  EXPECT_EQ(chart->rules[0].metrics_query,
            "sum(rate(<<.Series>>{<<.LabelMatchers>>,container!=\"POD\"}[5m])) by (<<.GroupBy>>)");
  EXPECT_EQ(chart->rules[3].name_matches, ".*");
  EXPECT_EQ(chart->rules[3].name_as, "");
  EXPECT_EQ(chart->rules[5].resources.label_template, "<<.Resource>>");

  auto templates = LoadConfigFile(dir + "prometheus-adapter-templates.yaml");
  ASSERT_TRUE(templates.ok()) << templates.status();
}

}  // namespace
}  // namespace aa::config

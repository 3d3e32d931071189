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
  // "<<-3>>" is not a trim marker (no space after '-'): not a field either.
  EXPECT_FALSE(GoTemplate::Parse("<<-3>>", kFields).ok());
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
           {"<<range .GroupBySlice>><<.>><<end>>", "<<range .GroupBySlice>>", 1},
           {"x\ny{<<.LabelMatchers | printf \"%s\">>}", "<<.LabelMatchers | printf", 2},
           {"a\nb\n<<index .LabelValuesByName \"namespace\">>", "<<index .LabelValuesByName", 3},
           {"<<.Resource>>", "<<.Resource>>", 1},
           {"<</* comment */>>", "<</* comment */>>", 1},
           {"<<$x := .Series>>", "<<$x := .Series>>", 1},
           {"<<.series>>", "<<.series>>", 1},
           {"<<.>>", "<<.>>", 1},
           {"<<if .GroupBy>>by (<<.GroupBy>>)<<end>>", "<<if .GroupBy>>", 1},
       }) {
    auto t = GoTemplate::Parse(c.text, kFields);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_THAT(std::string(t.status().message()),
                HasSubstr(absl::StrCat("line ", c.line, ": unsupported template construct \"")))
        << c.text;
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(c.construct)) << c.text;
    EXPECT_THAT(std::string(t.status().message()), HasSubstr("<<.Series>>, <<.LabelMatchers>>"));
  }
  auto t = GoTemplate::Parse("x\n{<<.Series", kFields);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("line 2: unterminated template action"));
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
  EXPECT_EQ(ErrorOf("rules:\n"
                    "- seriesQuery: 'x'\n"
                    "  metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<range "
                    ".GroupBySlice>><<.>><<end>>)'\n"),
            "t.yaml:3: rules[0].metricsQuery: unsupported template construct \"<<range "
            ".GroupBySlice>>\"; supported here: <<.Series>>, <<.LabelMatchers>>, <<.GroupBy>>");
  // In a block scalar: the line of the construct itself.
  EXPECT_THAT(ErrorOf("rules:\n"
                      "- seriesQuery: 'x'\n"
                      "  metricsQuery: |\n"
                      "    sum(<<.Series>>{<<.LabelMatchers>>})\n"
                      "      by (<<index .LabelValuesByName \"pod\">>)\n"),
              HasSubstr("t.yaml:5: rules[0].metricsQuery: unsupported template construct "
                        "\"<<index .LabelValuesByName \\\"pod\\\">>\""));
  EXPECT_THAT(ErrorOf("externalRules:\n"
                      "- seriesQuery: 'x'\n"
                      "  resources: {template: '<<.Resource | lower>>'}\n"
                      "  metricsQuery: 'x{<<.LabelMatchers>>}'\n"),
              HasSubstr("t.yaml:3: externalRules[0].resources.template: unsupported template "
                        "construct \"<<.Resource | lower>>\"; supported here: <<.Group>>, "
                        "<<.Resource>>"));
  EXPECT_THAT(ErrorOf("rules:\n- seriesQuery: 'x'\n  metricsQuery: 'sum(<<.Series>>)'\n"),
              HasSubstr("t.yaml:3: rules[0].metricsQuery: must contain <<.LabelMatchers>>"));
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

}  // namespace
}  // namespace aa::config

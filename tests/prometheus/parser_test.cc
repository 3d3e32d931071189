#include "prometheus/parser.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testutil/temp_dir.h"

namespace aa::prom {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string TestData(const std::string& name) {
  std::string s = testutil::ReadFileOrEmpty(std::string(AA_PROM_TESTDATA) + "/" + name);
  EXPECT_FALSE(s.empty()) << "missing test data " << name;
  return s;
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

TEST(ParseQueryResponse, VectorWithSpecialValuesAndSortedLabels) {
  auto r = ParseQueryResponse(TestData("vector.json"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, ResultType::kVector);
  ASSERT_EQ(r->samples.size(), 4u);
  // Labels arrive unsorted in the file; they come out sorted by name.
  EXPECT_THAT(r->samples[0].labels,
              ElementsAre(Pair("container", "kserve-container"), Pair("namespace", "default"),
                          Pair("pod", "web-1")));
  EXPECT_EQ(r->samples[0].value, 1.5);
  EXPECT_EQ(r->samples[0].timestamp_ms, 1700000000123);
  EXPECT_TRUE(std::isnan(r->samples[1].value));
  EXPECT_EQ(r->samples[2].value, INFINITY);
  EXPECT_EQ(r->samples[3].value, -INFINITY);
  EXPECT_EQ(LabelValue(r->samples[0].labels, "pod"), "web-1");
  EXPECT_EQ(LabelValue(r->samples[0].labels, "missing"), "");
  EXPECT_TRUE(r->warnings.empty());
}

TEST(ParseQueryResponse, MatrixWithWarnings) {
  auto r = ParseQueryResponse(TestData("matrix.json"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, ResultType::kMatrix);
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_THAT(r->series[0].labels,
              ElementsAre(Pair("__name__", "up"), Pair("instance", "localhost:9090"),
                          Pair("job", "prometheus")));
  EXPECT_THAT(r->series[0].points, ElementsAre(Pair(1700000000000, 1.0), Pair(1700000015000, 0.0),
                                               Pair(1700000030500, 1000.0)));
  EXPECT_THAT(r->warnings, ElementsAre("query touched many series"));
}

TEST(ParseQueryResponse, Scalar) {
  auto r = ParseQueryResponse(TestData("scalar.json"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, ResultType::kScalar);
  ASSERT_EQ(r->samples.size(), 1u);
  EXPECT_TRUE(r->samples[0].labels.empty());
  EXPECT_EQ(r->samples[0].value, 42.25);
  EXPECT_EQ(r->samples[0].timestamp_ms, 1700000000500);
}

TEST(ParseQueryResponse, String) {
  auto r = ParseQueryResponse(TestData("string.json"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, ResultType::kString);
  EXPECT_EQ(r->string_value, "hello \"world\"");
}

TEST(ParseQueryResponse, FieldOrderDoesNotMatter) {
  auto r = ParseQueryResponse(
      R"({"data":{"result":[{"value":[10,"3"],"metric":{"b":"2","a":"1"}}],"resultType":"vector"},"status":"success"})");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->samples.size(), 1u);
  EXPECT_THAT(r->samples[0].labels, ElementsAre(Pair("a", "1"), Pair("b", "2")));
  EXPECT_EQ(r->samples[0].value, 3);
  EXPECT_EQ(r->samples[0].timestamp_ms, 10000);
}

TEST(ParseQueryResponse, EmptyVectorAndEscapes) {
  auto r = ParseQueryResponse(R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->samples.empty());
  r = ParseQueryResponse(
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"p\u006fd":"a\"b\\c\u00e9"},"value":[1,"-0.5e-3"]}]}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->samples[0].labels, ElementsAre(Pair("pod", "a\"b\\c\xc3\xa9")));
  EXPECT_DOUBLE_EQ(r->samples[0].value, -0.0005);
}

TEST(ParseQueryResponse, HugeAnswerUsesItsOwnParser) {
  // Above 256 KiB the answer is parsed in pieces (no parser the size of the body); the result is
  // the same.
  std::string body = R"({"status":"success","data":{"resultType":"vector","result":[)";
  const int n = 120000;
  for (int i = 0; i < n; ++i) {
    if (i > 0) body += ',';
    body += R"({"metric":{"pod":"pod-)" + std::to_string(i) +
            R"(-abcdefghijklmnopqrstuvwxyz"},"value":[1,"2"]})";
  }
  body += "]}}";
  ASSERT_GT(body.size(), 8u << 20);
  auto r = ParseQueryResponse(body);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples.size(), static_cast<size_t>(n));
  EXPECT_EQ(LabelValue(r->samples.back().labels, "pod"), "pod-119999-abcdefghijklmnopqrstuvwxyz");
  // And the thread's parser still works afterwards.
  EXPECT_TRUE(ParseQueryResponse(TestData("vector.json")).ok());
}

TEST(ParseQueryResponse, KeepsOnlyTheLabelsAskedFor) {
  const std::string body =
      R"({"status":"success","data":{"resultType":"vector","result":[)"
      R"({"metric":{"__name__":"x_bucket","pod":"web-1","instance":"10.0.0.1:9090","le":"0.5",)"
      R"("namespace":"default","label_app":"web","job":"kubelet"},"value":[1,"2"]},)"
      R"({"metric":{"pod":"web-2"},"value":[1,"3"]}]}})";
  auto r = ParseQueryResponse(body, LabelFilter::Only({"namespace", "pod", "le", ""}));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->samples.size(), 2u);
  EXPECT_THAT(r->samples[0].labels,
              ElementsAre(Pair("le", "0.5"), Pair("namespace", "default"), Pair("pod", "web-1")));
  EXPECT_THAT(r->samples[1].labels, ElementsAre(Pair("pod", "web-2")));
  EXPECT_EQ(r->samples[0].value, 2);
  // By prefix too; and the default keeps every label.
  r = ParseQueryResponse(body, LabelFilter::Only({"pod"}, {"label_"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->samples[0].labels, ElementsAre(Pair("label_app", "web"), Pair("pod", "web-1")));
  r = ParseQueryResponse(body);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples[0].labels.size(), 7u);
  // Nothing kept: samples without labels, values intact.
  r = ParseQueryResponse(body, LabelFilter::Only({}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->samples[0].labels.empty());
  EXPECT_EQ(r->samples[1].value, 3);
}

TEST(ParseQueryResponse, SkippedLabelsAreCheckedAsKeptOnes) {
  const LabelFilter keep = LabelFilter::Only({"namespace", "pod"});
  for (const char* metric :
       {R"({"pod":"a","job":1})", R"({"pod":"a","job":"x","job":"y"})", R"({"pod":"a","pod":"b"})",
        R"({"job":"a\u0000","job":"a\u0000"})", R"({"job":[]})", R"({"job":"x",})"}) {
    const std::string body = std::string(R"({"status":"success","data":{"resultType":"vector",)") +
                             R"("result":[{"metric":)" + metric + R"(,"value":[1,"2"]}]}})";
    auto all = ParseQueryResponse(body);
    auto some = ParseQueryResponse(body, keep);
    ASSERT_FALSE(all.ok()) << metric;
    EXPECT_EQ(some.status(), all.status()) << metric;
  }
  // A duplicate name among skipped labels only.
  auto r = ParseQueryResponse(
      std::string(R"({"status":"success","data":{"resultType":"vector","result":[)") +
          R"({"metric":{"pod":"a","job":"x","job":"y"},"value":[1,"2"]}]}})",
      keep);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(r.status()), HasSubstr("data.result[0].metric: duplicate label \"job\""));
}

// A vector answer of `n` series of about 150 bytes (over the 256 KiB a thread's parser keeps from
// n = 2000), element `bad` (if any) replaced by `bad_element`.
std::string LargeVector(int n, int bad = -1, const std::string& bad_element = "") {
  std::string body = R"({"status":"success","data":{"resultType":"vector","result":[)";
  for (int i = 0; i < n; ++i) {
    if (i > 0) body += ",\n ";
    if (i == bad) {
      body += bad_element;
      continue;
    }
    body += R"({"metric":{"namespace":"ns-)" + std::to_string(i % 7) + R"(","pod":"pod-)" +
            std::to_string(i) + R"(","instance":"10.0.0.1:9090","job":"kubernetes-pods"},)" +
            R"("value":[1700000000.5,")" + std::to_string(i) + R"(.25"]})";
  }
  body += "]}}";
  return body;
}

TEST(ParseQueryResponse, LargeAnswersParseInPiecesWithTheSameResult) {
  const int n = 5000;
  const std::string body = LargeVector(n);
  ASSERT_GT(body.size(), 512u << 10);
  for (const LabelFilter& keep : {LabelFilter(), LabelFilter::Only({"namespace", "pod"})}) {
    auto r = ParseQueryResponse(body, keep);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->samples.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      const Sample& s = r->samples[static_cast<size_t>(i)];
      ASSERT_EQ(LabelValue(s.labels, "pod"), "pod-" + std::to_string(i));
      ASSERT_EQ(LabelValue(s.labels, "namespace"), "ns-" + std::to_string(i % 7));
      ASSERT_EQ(s.labels.size(), keep.all ? 4u : 2u);
      ASSERT_EQ(s.value, i + 0.25);
      ASSERT_EQ(s.timestamp_ms, 1700000000500);
    }
  }
  // Other field orders, spacing, warnings, a matrix: the same as a small answer would give.
  std::string reordered = LargeVector(n);
  reordered.replace(0, std::string(R"({"status":"success","data":{"resultType":"vector",)").size(),
                    R"( { "warnings" : ["partial"], "data" : { "resultType" : "vector" , )");
  reordered.replace(reordered.size() - 2, 2, R"(} , "status" : "success" } )");
  auto r = ParseQueryResponse(reordered);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples.size(), static_cast<size_t>(n));
  EXPECT_THAT(r->warnings, ElementsAre("partial"));
  std::string escaped_key = LargeVector(n);  // "result" written with an escape: parsed whole
  escaped_key.replace(escaped_key.find("\"result\""), 8, R"("res\u0075lt")");
  r = ParseQueryResponse(escaped_key);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples.size(), static_cast<size_t>(n));
  std::string matrix = R"({"status":"success","data":{"resultType":"matrix","result":[)";
  for (int i = 0; i < n; ++i) {
    if (i > 0) matrix += ',';
    matrix += R"({"metric":{"pod":"p)" + std::to_string(i) +
              R"("},"values":[[1,"1"],[2,"2"],[3,"3"],[4,"4"],[5,"5"],[6,"6"],[7,"7"]]})";
  }
  matrix += "]}}";
  ASSERT_GT(matrix.size(), 256u << 10);
  r = ParseQueryResponse(matrix, LabelFilter::Only({"pod"}));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->series.size(), static_cast<size_t>(n));
  EXPECT_EQ(r->series.back().points.size(), 7u);
  EXPECT_EQ(LabelValue(r->series.back().labels, "pod"), "p4999");
}

TEST(ParseQueryResponse, LargeAnswersFailAsSmallOnes) {
  const int n = 4000;
  struct Case {
    std::string body;
    const char* message_part;
  };
  const std::string ok_elem = R"({"metric":{"pod":"x"},"value":[1,"2"]})";
  std::vector<Case> cases = {
      {LargeVector(n, 3500, R"({"metric":{"pod":"x"},"value":[1,"abc"]})"),
       "data.result[3500].value: value \"abc\" is not a number"},
      {LargeVector(n, 3999, R"({"metric":{"job":1},"value":[1,"2"]})"),
       "data.result[3999].metric: label \"job\" is not a string"},
      {LargeVector(n, 10, R"({"metric":{"a":"1","a":"2"},"value":[1,"2"]})"),
       "data.result[10].metric: duplicate label \"a\""},
      {LargeVector(n, 2000, R"({"metric":{"pod":"x"}})"), "data.result[2000]: missing \"value\""},
      {LargeVector(n, 1234, R"({"metric":{"pod":"x"},"values":[[1,"2"]]})"),
       "vector element with \"values\""},
      {LargeVector(n, 3000, R"([1,"2"])"), "data.result[3000]: unexpected element"},
      {LargeVector(n, 5, R"({"metric":{"pod":"x"},"value":[1,"2"]},)"), "malformed"},
      {LargeVector(n, 5, R"({"metric":{"pod":"x"},"value":[1,"2"]}})"), "malformed"},
      {LargeVector(n, 5, R"({"metric":{"pod":"x"},"value":[1,"2"])"), "malformed"},
      {LargeVector(n, 5, R"({"metric":{"pod":"x},"value":[1,"2"]})"), "malformed"},
      {LargeVector(n) + " x", "not a JSON object"},
      {LargeVector(n).substr(0, 300000), "malformed"},
      {LargeVector(n).substr(0, LargeVector(n).size() - 1), "malformed"},
      {LargeVector(n) + "}", "trailing content"},
      {std::string(R"({"status":"success","data":{"resultType":"vector","result":[]},)") +
           R"("data":)" + LargeVector(n).substr(LargeVector(n).find(R"({"resultType")")),
       "duplicate \"data\""},
  };
  std::string duplicate_result = LargeVector(n);
  duplicate_result.insert(duplicate_result.size() - 2, R"(,"result":[)" + ok_elem + "]");
  cases.push_back({duplicate_result, "duplicate \"result\""});
  std::string error_answer = LargeVector(n);
  error_answer.replace(error_answer.find(R"("status":"success")"), 18,
                       R"("status":"error","errorType":"timeout","error":"too slow")");
  for (const Case& c : cases) {
    ASSERT_GT(c.body.size(), 256u << 10);
    for (const LabelFilter& keep : {LabelFilter(), LabelFilter::Only({"pod"})}) {
      auto r = ParseQueryResponse(c.body, keep);
      ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
          << c.message_part << " " << &c - &cases[0] << ": " << r.status();
      EXPECT_THAT(Msg(r.status()), HasSubstr("malformed Prometheus answer")) << c.message_part;
      EXPECT_THAT(Msg(r.status()), HasSubstr(c.message_part)) << r.status();
    }
  }
  auto r = ParseQueryResponse(error_answer, LabelFilter::Only({"pod"}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(r.status()), HasSubstr("Prometheus error (timeout): too slow"));
}

TEST(ParseQueryResponse, SizesChangeNothingButMemory) {
  // ParseSizes small enough that a 40-element answer takes the sliced path, in batches of one
  // element up to all of them: the same samples, and the same error for a bad element.
  const std::string body = LargeVector(40);
  const std::string bad = LargeVector(40, 17, R"({"metric":{"pod":"x"},"value":[1,"abc"]})");
  const LabelFilter pod_only = LabelFilter::Only({"pod"});
  for (const LabelFilter& keep : {LabelFilter(), pod_only}) {
    auto whole = ParseQueryResponse(body, keep);
    ASSERT_TRUE(whole.ok()) << whole.status();
    for (size_t batch_bytes : {1, 300, 1000, 100000}) {
      const ParseSizes sizes{.slice_above = 0, .batch_bytes = batch_bytes};
      auto pieces = ParseQueryResponse(body, keep, sizes);
      ASSERT_TRUE(pieces.ok()) << pieces.status();
      ASSERT_EQ(pieces->samples.size(), whole->samples.size());
      for (size_t i = 0; i < whole->samples.size(); ++i) {
        EXPECT_EQ(pieces->samples[i].labels, whole->samples[i].labels) << i;
        EXPECT_EQ(pieces->samples[i].value, whole->samples[i].value) << i;
        EXPECT_EQ(pieces->samples[i].timestamp_ms, whole->samples[i].timestamp_ms) << i;
      }
      EXPECT_EQ(ParseQueryResponse(bad, keep, sizes).status(),
                ParseQueryResponse(bad, keep).status());
    }
  }
  EXPECT_THAT(Msg(ParseQueryResponse(bad).status()),
              HasSubstr("data.result[17].value: value \"abc\" is not a number"));
}

// The samples a visitor receives, as Samples.
std::vector<Sample> Visited(std::string_view body, const LabelFilter& keep, const ParseSizes& sizes,
                            absl::Status* status, QueryResult* rest = nullptr) {
  std::vector<Sample> seen;
  auto r = ParseQueryResponse(body, keep, sizes, [&](const SampleRef& s) {
    Labels labels(s.labels.begin(), s.labels.end());
    seen.push_back(Sample{labels, s.value, s.timestamp_ms});
  });
  *status = r.status();
  if (r.ok() && rest != nullptr) *rest = *std::move(r);
  return seen;
}

TEST(ParseQueryResponse, AVisitorGetsTheSamplesInsteadOfTheResult) {
  const LabelFilter pod_only = LabelFilter::Only({"pod"});
  for (const std::string& body : {LargeVector(40), LargeVector(5000)}) {  // whole, in pieces
    for (const LabelFilter& keep : {LabelFilter(), pod_only}) {
      auto whole = ParseQueryResponse(body, keep);
      ASSERT_TRUE(whole.ok()) << whole.status();
      absl::Status status;
      QueryResult rest;
      std::vector<Sample> seen = Visited(body, keep, ParseSizes(), &status, &rest);
      ASSERT_TRUE(status.ok()) << status;
      EXPECT_TRUE(rest.samples.empty());
      EXPECT_EQ(rest.type, ResultType::kVector);
      ASSERT_EQ(seen.size(), whole->samples.size());
      for (size_t i = 0; i < seen.size(); ++i) {
        EXPECT_EQ(seen[i].labels, whole->samples[i].labels) << i;
        EXPECT_EQ(seen[i].value, whole->samples[i].value) << i;
        EXPECT_EQ(seen[i].timestamp_ms, whole->samples[i].timestamp_ms) << i;
      }
    }
  }
  // A scalar is no instant vector: returned as by ParseQueryResponse, nothing visited.
  absl::Status status;
  QueryResult rest;
  EXPECT_TRUE(
      Visited(TestData("scalar.json"), LabelFilter(), ParseSizes(), &status, &rest).empty());
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(rest.type, ResultType::kScalar);
  EXPECT_EQ(rest.samples.size(), 1u);
  // A bad element, whole or in pieces: the same error as without a visitor (what was visited
  // before it is no answer).
  for (const std::string& body :
       {LargeVector(40, 17, R"({"metric":{"pod":"x"},"value":[1,"abc"]})"),
        LargeVector(5000, 4000, R"({"metric":{"pod":"x"},"value":[1,"abc"]})")}) {
    Visited(body, pod_only, ParseSizes(), &status);
    EXPECT_EQ(status, ParseQueryResponse(body, pod_only).status());
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseQueryResponse, BadDataErrorIsInvalidArgument) {
  auto r = ParseQueryResponse(TestData("error_bad_data.json"));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(r.status()), HasSubstr("bad_data"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("parse error: unexpected <op:*>"));
}

TEST(ParseQueryResponse, OtherErrorTypesAreUnavailable) {
  auto r = ParseQueryResponse(TestData("error_timeout.json"));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(r.status()), HasSubstr("timeout"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("query timed out in expression evaluation"));
  for (const char* type : {"canceled", "execution", "internal", "unavailable"}) {
    auto e = ParseQueryResponse(std::string(R"({"status":"error","errorType":")") + type +
                                R"(","error":"x"})");
    EXPECT_EQ(e.status().code(), absl::StatusCode::kUnavailable) << type;
  }
}

struct Garbage {
  const char* name;
  std::string body;
  const char* message_part;
  bool bad_series_too = true;  // also not a valid /api/v1/series answer
};

void PrintTo(const Garbage& g, std::ostream* os) { *os << g.name; }

class GarbageTest : public ::testing::TestWithParam<Garbage> {};

TEST_P(GarbageTest, IsInvalidArgumentWithClearMessage) {
  const Garbage& g = GetParam();
  auto q = ParseQueryResponse(g.body);
  ASSERT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << g.name << ": " << q.status();
  // The same error when the caller keeps only some labels.
  EXPECT_EQ(ParseQueryResponse(g.body, LabelFilter::Only({"namespace", "pod"})).status(),
            q.status())
      << g.name;
  EXPECT_THAT(Msg(q.status()), HasSubstr("malformed Prometheus answer")) << g.name;
  EXPECT_THAT(Msg(q.status()), HasSubstr(g.message_part)) << g.name;
  // The series parser must not crash on any of these either.
  if (g.bad_series_too) {
    EXPECT_FALSE(ParseSeriesResponse(g.body).ok()) << g.name;
  }
  EXPECT_FALSE(ExtractApiError(g.body).has_value()) << g.name;
}

const char kVectorHead[] = R"({"status":"success","data":{"resultType":"vector","result":[)";

INSTANTIATE_TEST_SUITE_P(
    Parser, GarbageTest,
    ::testing::Values(
        Garbage{"empty", "", "empty body"},
        Garbage{"html", "<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>",
                "body starts with \"<!DOCTYPE html>"},
        Garbage{"truncated", std::string(kVectorHead) + R"({"metric":{},"value":[1,"2"]})",
                "malformed"},
        Garbage{"truncated_string", R"({"status":"succ)", "malformed"},
        Garbage{"invalid_json", R"({"status":"success",,})", "malformed"},
        Garbage{"trailing", R"({"status":"success","data":{"resultType":"vector","result":[]}} x)",
                "malformed"},
        Garbage{"array_root", R"([1,2])", "not a JSON object"},
        Garbage{"number_root", "42", "not a JSON object"},
        Garbage{"missing_status", R"({"data":{"resultType":"vector","result":[]}})",
                "missing \"status\""},
        Garbage{"unknown_status", R"({"status":"ok","data":{"resultType":"vector","result":[]}})",
                "unknown status"},
        Garbage{"status_not_string", R"({"status":1})", "status"},
        Garbage{"missing_data", R"({"status":"success"})", "missing \"data\""},
        Garbage{"data_not_object", R"({"status":"success","data":[]})", "data", false},
        Garbage{"missing_result_type", R"({"status":"success","data":{"result":[]}})",
                "resultType"},
        Garbage{"unknown_result_type",
                R"({"status":"success","data":{"resultType":"table","result":[]}})",
                "unknown resultType"},
        Garbage{"missing_result", R"({"status":"success","data":{"resultType":"vector"}})",
                "missing \"result\""},
        Garbage{"result_not_array",
                R"({"status":"success","data":{"resultType":"vector","result":{}}})",
                "data.result"},
        Garbage{"value_not_number",
                std::string(kVectorHead) + R"({"metric":{},"value":[1,"abc"]}]}})",
                "data.result[0].value: value \"abc\" is not a number"},
        Garbage{"value_trailing",
                std::string(kVectorHead) + R"({"metric":{},"value":[1,"1.5x"]}]}})",
                "is not a number"},
        Garbage{"value_space", std::string(kVectorHead) + R"({"metric":{},"value":[1," 1"]}]}})",
                "is not a number"},
        Garbage{"value_empty", std::string(kVectorHead) + R"({"metric":{},"value":[1,""]}]}})",
                "is not a number"},
        Garbage{"value_number_not_string",
                std::string(kVectorHead) + R"({"metric":{},"value":[1,2]}]}})",
                "value is not a string"},
        Garbage{"timestamp_string",
                std::string(kVectorHead) + R"({"metric":{},"value":["1","2"]}]}})",
                "timestamp is not a number"},
        Garbage{"value_short", std::string(kVectorHead) + R"({"metric":{},"value":[1]}]}})",
                "expected 2 elements"},
        Garbage{"value_long", std::string(kVectorHead) + R"({"metric":{},"value":[1,"2",3]}]}})",
                "expected 2 elements"},
        Garbage{"missing_metric", std::string(kVectorHead) + R"({"value":[1,"2"]}]}})",
                "missing \"metric\""},
        Garbage{"missing_value", std::string(kVectorHead) + R"({"metric":{}}]}})",
                "missing \"value\""},
        Garbage{"label_not_string",
                std::string(kVectorHead) + R"({"metric":{"a":1},"value":[1,"2"]}]}})",
                "label \"a\" is not a string"},
        Garbage{"duplicate_label",
                std::string(kVectorHead) + R"({"metric":{"a":"1","a":"2"},"value":[1,"2"]}]}})",
                "duplicate label"},
        Garbage{"metric_not_object",
                std::string(kVectorHead) + R"({"metric":[],"value":[1,"2"]}]}})",
                "data.result[0].metric"},
        Garbage{"vector_with_values",
                std::string(kVectorHead) + R"({"metric":{},"values":[[1,"2"]]}]}})",
                "vector element with \"values\""},
        Garbage{
            "scalar_as_objects",
            R"({"status":"success","data":{"resultType":"scalar","result":[{"metric":{},"value":[1,"2"]}]}})",
            "expected [time, \"value\"] for scalar"},
        Garbage{"vector_as_pair",
                R"({"status":"success","data":{"resultType":"vector","result":[1,"2"]}})",
                "expected an array of objects"},
        Garbage{"scalar_bad_value",
                R"({"status":"success","data":{"resultType":"scalar","result":[1,"x"]}})",
                "is not a number"},
        Garbage{
            "matrix_out_of_order",
            R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[2,"1"],[1,"1"]]}]}})",
            "time order"},
        Garbage{"warnings_not_strings",
                R"({"status":"success","data":{"resultType":"vector","result":[]},"warnings":[1]})",
                "warnings"},
        Garbage{"nul_bytes", std::string("\0\0\0", 3), "malformed"}),
    [](const ::testing::TestParamInfo<Garbage>& info) { return info.param.name; });

TEST(ParseSeriesResponse, LabelSetsSorted) {
  auto r = ParseSeriesResponse(TestData("series.json"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_THAT((*r)[1], ElementsAre(Pair("__name__", "up"), Pair("instance", "localhost:9100"),
                                   Pair("job", "node")));
}

TEST(ParseLabelValuesResponse, ValuesAndErrors) {
  auto r = ParseLabelValuesResponse(
      R"({"status":"success","data":["default","kserve-test"],"warnings":[]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ElementsAre("default", "kserve-test"));
  EXPECT_TRUE(ParseLabelValuesResponse(R"({"status":"success","data":[]})")->empty());
  EXPECT_EQ(ParseLabelValuesResponse(TestData("error_timeout.json")).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ParseLabelValuesResponse(R"({"status":"success","data":["a",1]})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLabelValuesResponse(R"({"status":"success","data":{}})").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseSeriesResponse, ErrorsAndGarbage) {
  EXPECT_EQ(ParseSeriesResponse(TestData("error_bad_data.json")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSeriesResponse(TestData("error_timeout.json")).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ParseSeriesResponse(R"({"status":"success","data":{}})").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto r = ParseSeriesResponse(R"({"status":"success","data":[{"a":"1"},{"b":2}]})");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(r.status()), HasSubstr("data[1]"));
  EXPECT_EQ(ParseSeriesResponse(TestData("html.txt")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ExtractApiError, OnlyForWellFormedErrorAnswers) {
  auto e = ExtractApiError(TestData("error_bad_data.json"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code(), absl::StatusCode::kInvalidArgument);
  e = ExtractApiError(
      R"({"status":"error","errorType":"execution","error":"many-to-many matching"})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(*e), HasSubstr("many-to-many matching"));
  EXPECT_FALSE(ExtractApiError(TestData("vector.json")).has_value());
  EXPECT_FALSE(ExtractApiError(TestData("html.txt")).has_value());
  EXPECT_FALSE(ExtractApiError(R"({"status":"error"})").has_value());
}

TEST(ParseSampleValue, Formats) {
  double v = 0;
  EXPECT_TRUE(ParseSampleValue("1.5", &v));
  EXPECT_EQ(v, 1.5);
  EXPECT_TRUE(ParseSampleValue("-2e-3", &v));
  EXPECT_EQ(v, -0.002);
  EXPECT_TRUE(ParseSampleValue("1e+06", &v));
  EXPECT_EQ(v, 1e6);
  EXPECT_TRUE(ParseSampleValue("+Inf", &v));
  EXPECT_EQ(v, INFINITY);
  EXPECT_TRUE(ParseSampleValue("-Inf", &v));
  EXPECT_EQ(v, -INFINITY);
  EXPECT_TRUE(ParseSampleValue("NaN", &v));
  EXPECT_TRUE(std::isnan(v));
  for (const char* bad : {"", " 1", "1 ", "1,5", "abc", "+", "-", "0x", "1e999", "nan(", "--1"}) {
    EXPECT_FALSE(ParseSampleValue(bad, &v)) << bad;
  }
}

}  // namespace
}  // namespace aa::prom

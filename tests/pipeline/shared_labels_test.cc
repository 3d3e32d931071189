#include <gtest/gtest.h>

#include "pipeline/snapshot.h"

namespace aa::pipeline {
namespace {

TEST(SharedLabelsTest, EqualLabelSetsOfOneTableShareOneAllocation) {
  SharedLabelsMaker maker;
  SharedLabels a = maker.Make({{"app", "web"}, {"tier", "front"}});
  SharedLabels b = maker.Make({{"app", "web"}, {"tier", "front"}});
  SharedLabels c = maker.Make({{"app", "db"}});
  EXPECT_EQ(&a.get(), &b.get());
  EXPECT_NE(&a.get(), &c.get());
  EXPECT_EQ(a, (prom::Labels{{"app", "web"}, {"tier", "front"}}));
  EXPECT_EQ(c.size(), 1u);
  const prom::Labels& read = c;
  EXPECT_EQ(read.front().second, "db");
}

TEST(SharedLabelsTest, ReadsAsAPlainLabelList) {
  SharedLabels none;
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(none.get().empty());
  SharedLabels set = prom::Labels{{"app", "web"}};
  EXPECT_EQ(set.get(), (prom::Labels{{"app", "web"}}));
  PodLabelsTable table;
  table.pods["a-1"] = prom::Labels{{"app", "web"}};
  table.pods[std::string("a-2")] = {};
  EXPECT_EQ(table.pods.at("a-1"), (prom::Labels{{"app", "web"}}));
  EXPECT_TRUE(table.pods.at("a-2").empty());
}

}  // namespace
}  // namespace aa::pipeline

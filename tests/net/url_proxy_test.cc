#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "net/proxy.h"
#include "net/url.h"

namespace aa::net {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseUrl, SchemeHostPortPathAndCredentials) {
  auto u = ParseUrl("HTTPS://bob:s3cret@thanos.example:10902/query/prefix//");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(u->https);
  EXPECT_EQ(u->host, "thanos.example");
  EXPECT_EQ(u->port, 10902);
  EXPECT_EQ(u->path, "/query/prefix");
  EXPECT_EQ(u->username, "bob");
  EXPECT_EQ(u->password, "s3cret");
  EXPECT_EQ(u->Redacted(), "https://thanos.example:10902/query/prefix");

  auto v6 = ParseUrl("http://[fd00::1]");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "fd00::1");
  EXPECT_EQ(v6->port, 80);
  EXPECT_EQ(v6->HostPort(), "[fd00::1]:80");
  EXPECT_EQ(ParseUrl("https://10.96.0.1")->port, 443);
}

TEST(ParseUrl, ErrorsNameTheFaultButNotTheUrl) {
  struct Case {
    const char* url;
    const char* want;
  };
  for (const Case& c :
       {Case{"prometheus:9090", "must start with http:// or https://"},
        Case{"ftp://user:hunter2@x", "unsupported scheme \"ftp\""},
        Case{"http://:9090", "missing host"}, Case{"http://h:0", "invalid port"},
        Case{"http://h:99999", "bad port"}, Case{"http://h/x?q=1", "query or fragment"},
        Case{"http://[::1:80", "IPv6"}}) {
    auto u = ParseUrl(c.url);
    ASSERT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(u.status().message(), HasSubstr(c.want)) << c.url;
    EXPECT_THAT(u.status().message(), Not(HasSubstr("hunter2")));
  }
}

TEST(UrlEncode, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(UrlEncode("sum(rate(x{a=\"b c\"}[5m]))/2~-_."),
            "sum%28rate%28x%7Ba%3D%22b%20c%22%7D%5B5m%5D%29%29%2F2~-_.");
}

Url Target(const std::string& text) { return *ParseUrl(text); }

TEST(ProxyRules, SchemePicksTheVariable) {
  auto rules = ProxyRules::Parse({.http_proxy = "http://plain:3128", .https_proxy = "secure:8080"});
  ASSERT_TRUE(rules.ok()) << rules.status();
  auto https = rules->ProxyFor(Target("https://kube.example"));
  ASSERT_TRUE(https.has_value());
  EXPECT_EQ(https->HostPort(), "secure:8080");  // no scheme: http://
  auto http = rules->ProxyFor(Target("http://prom.example:9090"));
  ASSERT_TRUE(http.has_value());
  EXPECT_EQ(http->HostPort(), "plain:3128");
  // Only HTTPS_PROXY set: http:// targets go direct.
  auto only_https = ProxyRules::Parse({.https_proxy = "http://p:1"});
  EXPECT_FALSE(only_https->ProxyFor(Target("http://prom.example")).has_value());
  EXPECT_TRUE(only_https->ProxyFor(Target("https://prom.example")).has_value());
  // Nothing set: direct.
  EXPECT_FALSE(ProxyRules().ProxyFor(Target("https://kube.example")).has_value());
}

TEST(ProxyRules, HttpProxyIsIgnoredInACgiEnvironment) {
  auto rules =
      ProxyRules::Parse({.http_proxy = "http://p:1", .https_proxy = "http://p:2", .cgi = true});
  ASSERT_TRUE(rules.ok());
  EXPECT_FALSE(rules->ProxyFor(Target("http://x.example")).has_value());
  EXPECT_TRUE(rules->ProxyFor(Target("https://x.example")).has_value());
}

TEST(ProxyRules, UnsupportedProxiesAreErrorsNamingTheVariable) {
  auto https = ProxyRules::Parse({.https_proxy = "https://user:hunter2@p:443"});
  EXPECT_EQ(https.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(https.status().message(), HasSubstr("HTTPS_PROXY"));
  EXPECT_THAT(https.status().message(), Not(HasSubstr("hunter2")));
  auto socks = ProxyRules::Parse({.http_proxy = "socks5://p:1080"});
  EXPECT_EQ(socks.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(socks.status().message(), HasSubstr("HTTP_PROXY"));
}

TEST(ProxyRules, NoProxyEntriesAsGoReadsThem) {
  auto rules = ProxyRules::Parse(
      {.http_proxy = "http://p:1",
       .https_proxy = "http://p:1",
       .no_proxy = " Example.COM, .svc ,*.cluster.local,10.0.0.0/8,fd00::/8,192.168.1.5,"
                   "[2001:db8::1]:443,only.port:8443,bad/xx,,"});
  ASSERT_TRUE(rules.ok()) << rules.status();
  struct Case {
    const char* host;
    int port;
    bool direct;
  };
  for (const Case& c : {
           Case{"example.com", 443, true},      // the name itself
           Case{"api.example.com", 443, true},  // and its subdomains
           Case{"notexample.com", 443, false},  // not a suffix at a dot
           Case{"svc", 443, false},             // ".svc": subdomains only
           Case{"prometheus.monitoring.svc", 9090, true},
           Case{"cluster.local", 443, false},  // "*.cluster.local" is ".cluster.local"
           Case{"kubernetes.default.svc.cluster.local", 443, true},
           Case{"10.96.0.1", 443, true},  // CIDR
           Case{"11.0.0.1", 443, false},
           Case{"fd00::17", 443, true},
           Case{"192.168.1.5", 80, true},  // one IP, any port
           Case{"192.168.1.6", 80, false},
           Case{"2001:db8::1", 443, true},  // [v6]:port
           Case{"2001:db8::1", 6443, false},
           Case{"only.port", 8443, true},  // name:port
           Case{"only.port", 443, false},
           Case{"localhost", 443, true},  // loopback always goes direct
           Case{"127.0.0.9", 443, true},
           Case{"::1", 443, true},
           Case{"kube.example", 443, false},
       }) {
    EXPECT_EQ(rules->Bypass(c.host, c.port), c.direct) << c.host << ":" << c.port;
  }
  // A name is matched as text, never resolved.
  EXPECT_FALSE(rules->Bypass("ten.example", 443));
  auto all = ProxyRules::Parse({.https_proxy = "http://p:1", .no_proxy = "foo, *"});
  EXPECT_FALSE(all->ProxyFor(Target("https://anything.example")).has_value());
}

}  // namespace
}  // namespace aa::net

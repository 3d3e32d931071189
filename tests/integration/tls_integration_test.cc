// The adapter binary's HTTPS port TLS policy, probed with the real `openssl s_client`: only
// forward-secret AEAD suites by default (a CBC suite and an RSA key exchange suite are refused, an
// ECDHE AES-GCM one accepted), TLS 1.1 refused, --tls-min-version and --tls-cipher-suites applied,
// and an unknown or insecure suite name a start error naming it. The serving certificate is RSA
// (made with `openssl req`), so RSA key exchange suites would be possible without the policy; the
// generated ECDSA certificate is checked too. No Prometheus: the adapter starts without one.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "demo/proc/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "testutil/temp_dir.h"

namespace aa {
namespace {

using integration::RunCommand;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);

class TlsIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testutil::TempDir();
    int code = -1;
    std::string out = RunCommand(
        absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                     "-addext subjectAltName=IP:127.0.0.1 -keyout '",
                     dir_->File("rsa.key"), "' -out '", dir_->File("rsa.crt"), "' 2>&1"),
        &code);
    ASSERT_EQ(code, 0) << out;
  }
  static void TearDownTestSuite() { delete dir_; }

  void TearDown() override {
    if (adapter_) {
      EXPECT_EQ(adapter_->Stop(), 0) << adapter_->LogTail();
    }
  }

  // Starts the adapter's HTTPS port with `args`; returns its port.
  int Start(std::vector<std::string> args, bool rsa = true) {
    std::vector<std::string> argv = {AA_BIN_DIR "/autoscale-adapter",
                                     "--prometheus-url=http://127.0.0.1:1",
                                     "--http-listen=off",
                                     "--grpc-listen=off",
                                     "--https-listen=127.0.0.1:0",
                                     "--authentication=off",
                                     "--authorization=off"};
    if (rsa) {
      argv.push_back("--tls-cert-file=" + dir_->File("rsa.crt"));
      argv.push_back("--tls-key-file=" + dir_->File("rsa.key"));
    }
    argv.insert(argv.end(), args.begin(), args.end());
    // A log of its own: the listening record read is this adapter's.
    auto p = proc::Subprocess::Start(
        {argv, dir_->File(absl::StrCat("adapter-", ++started_, ".log")), ""});
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return 0;
    adapter_ = *std::move(p);
    auto port = adapter_->WaitForListeningPort("https", kWait);
    EXPECT_TRUE(port.ok()) << port.status() << adapter_->LogTail();
    return port.ok() ? *port : 0;
  }

  // Whether `openssl s_client` with `options` completes a handshake with the port; `cipher`
  // receives the negotiated suite.
  static bool Handshake(int port, const std::string& options, std::string* cipher = nullptr) {
    int code = -1;
    std::string out =
        RunCommand(absl::StrCat("echo | timeout 20 openssl s_client -connect 127.0.0.1:", port, " ",
                                options, " 2>&1"),
                   &code);
    const size_t at = out.find("Cipher is ");
    if (cipher != nullptr) {
      *cipher = at == std::string::npos ? "" : out.substr(at + 10, out.find('\n', at) - at - 10);
    }
    // s_client exits 0 after a completed handshake; "Cipher is (NONE)" when none was agreed.
    return code == 0 && at != std::string::npos &&
           out.find("Cipher is (NONE)") == std::string::npos;
  }

  // Runs the adapter to its exit (it must refuse to start); returns its output.
  static std::string StartFails(const std::vector<std::string>& args) {
    std::string cmd = absl::StrCat("timeout 20 '", AA_BIN_DIR, "/autoscale-adapter'",
                                   " --prometheus-url=http://127.0.0.1:1 --http-listen=off "
                                   "--grpc-listen=off --https-listen=127.0.0.1:0 "
                                   "--authentication=off --authorization=off");
    for (const std::string& a : args) absl::StrAppend(&cmd, " '", a, "'");
    int code = -1;
    std::string out = RunCommand(cmd + " 2>&1", &code);
    EXPECT_EQ(code, 1) << out;
    return out;
  }

  static inline testutil::TempDir* dir_ = nullptr;
  static inline int started_ = 0;
  std::unique_ptr<proc::Subprocess> adapter_;
};

TEST_F(TlsIntegrationTest, DefaultOffersOnlyForwardSecretAeadSuites) {
  const int port = Start({});
  ASSERT_GT(port, 0);
  std::string cipher;
  EXPECT_TRUE(Handshake(port, "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256", &cipher));
  EXPECT_EQ(cipher, "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_TRUE(Handshake(port, "-tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305"));
  // RSA key exchange (no forward secrecy) and CBC suites: refused.
  EXPECT_FALSE(Handshake(port, "-tls1_2 -cipher AES128-GCM-SHA256"));
  EXPECT_FALSE(Handshake(port, "-tls1_2 -cipher AES256-SHA"));
  EXPECT_FALSE(Handshake(port, "-tls1_2 -cipher ECDHE-RSA-AES128-SHA"));
  EXPECT_FALSE(Handshake(port, "-tls1_2 -cipher ECDHE-RSA-AES256-SHA384"));
  // TLS 1.1 (the client allowed to offer it at security level 0): refused.
  EXPECT_FALSE(Handshake(port, "-tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'"));
  // The same client settings with TLS 1.2 succeed: the refusal is the version.
  EXPECT_TRUE(Handshake(port, "-tls1_2 -cipher 'DEFAULT:@SECLEVEL=0'", &cipher));
  EXPECT_THAT(cipher, HasSubstr("ECDHE-RSA"));
  EXPECT_TRUE(Handshake(port, "-tls1_3", &cipher));
  EXPECT_THAT(cipher, HasSubstr("TLS_AES_"));
}

TEST_F(TlsIntegrationTest, GeneratedEcdsaCertificateRefusesCbc) {
  const int port = Start({}, /*rsa=*/false);
  ASSERT_GT(port, 0);
  EXPECT_TRUE(Handshake(port, "-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256"));
  EXPECT_FALSE(Handshake(port, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA"));
  EXPECT_FALSE(Handshake(port, "-tls1_2 -cipher ECDHE-ECDSA-AES256-SHA384"));
}

TEST_F(TlsIntegrationTest, MinVersionTls13) {
  const int port = Start({"--tls-min-version=VersionTLS13"});
  ASSERT_GT(port, 0);
  EXPECT_FALSE(Handshake(port, "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256"));
  EXPECT_TRUE(Handshake(port, "-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256"));
}

TEST_F(TlsIntegrationTest, ChosenCipherSuites) {
  const int port =
      Start({"--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
             "TLS_AES_256_GCM_SHA384"});
  ASSERT_GT(port, 0);
  EXPECT_FALSE(Handshake(port, "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256"));
  std::string cipher;
  EXPECT_TRUE(Handshake(port, "-tls1_2", &cipher));
  EXPECT_EQ(cipher, "ECDHE-RSA-AES256-GCM-SHA384");
  EXPECT_FALSE(Handshake(port, "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256"));
  EXPECT_TRUE(Handshake(port, "-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384"));
}

TEST_F(TlsIntegrationTest, UnknownOrInsecureSettingsAreStartErrorsNamingThem) {
  EXPECT_THAT(StartFails({"--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
                          "TLS_RSA_WITH_AES_128_GCM_SHA256"}),
              HasSubstr("TLS_RSA_WITH_AES_128_GCM_SHA256 is refused: RSA key exchange"));
  EXPECT_THAT(StartFails({"--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}),
              HasSubstr("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA is refused: CBC"));
  EXPECT_THAT(StartFails({"--tls-cipher-suites=TLS_MADE_UP"}),
              HasSubstr("unknown cipher suite TLS_MADE_UP"));
  EXPECT_THAT(StartFails({"--tls-min-version=VersionTLS11"}),
              HasSubstr("--tls-min-version=VersionTLS11"));
}

}  // namespace
}  // namespace aa

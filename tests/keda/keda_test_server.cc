// keda_test_server: the real KEDA external scaler (keda::Server + pipeline::Sampler) fed by an
// in-memory fake Prometheus (tests/keda/fake_prom.h) on a simulated clock, for out-of-process
// clients (keda_client_test.py).
//
//   keda_test_server [--insecure | --tls-cert FILE --tls-key FILE [--client-ca FILE
//                    [--client-names A,B]]] [--max-streams N] [--max-streams-per-client N]
//                    [--max-receive-message-bytes N] [--max-concurrent-streams N]
//                    [--min-ping-interval-ms N] [--max-connection-idle-ms N]
//                    [--max-connection-age-ms N] [--max-connection-age-grace-ms N]
//
// --insecure: plaintext (keda::ServerOptions::allow_plaintext). The limits are
// keda::ServerOptions'. Listens on 127.0.0.1, port chosen by the kernel, and prints "PORT <n>" on
// stdout. Then reads commands, one a line, from stdin and answers each with one line, "ok ..." or
// "error <why>":
//   set <token> <namespace> <pod> <value>   a series value (tokens: conc, cpu_usage, cpu_request,
//                                           plain)
//   erase <token> <namespace> <pod>
//   labels <namespace> <pod> <k=v>[,<k=v>...]
//                                           Kubernetes labels of a pod (kube_pod_labels)
//   down <0|1>                              the fake Prometheus refuses queries
//   tick                                    5 s later: one sampling round published and pushed to
//                                           streams
//   streams                                 "ok <open StreamIsActive streams>"
//   quit                                    graceful shutdown (also on end of input); exit status 0
// Metric definitions: concurrency (target 70), cpu (baseline, targetUtilization 50), plain (no
// target).

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "common/log.h"
#include "keda/fake_prom.h"
#include "keda/server.h"
#include "pipeline/sampler.h"
#include "pipeline/view.h"
#include "prometheus/registry.h"

namespace {

int Usage() {
  std::cerr << "usage: keda_test_server [--insecure | --tls-cert FILE --tls-key FILE "
               "[--client-ca FILE [--client-names A,B]]] [--max-streams N] [limits: see the "
               "header comment]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  aa::keda::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--insecure") {
      options.allow_plaintext = true;
      continue;
    }
    if (i + 1 >= argc) return Usage();
    std::string value = argv[++i];
    if (arg == "--tls-cert") {
      options.tls_cert_file = value;
    } else if (arg == "--tls-key") {
      options.tls_key_file = value;
    } else if (arg == "--client-ca") {
      options.client_ca_file = value;
    } else if (arg == "--max-streams") {
      options.max_streams = std::stoul(value);
    } else if (arg == "--max-streams-per-client") {
      options.max_streams_per_client = std::stoul(value);
    } else if (arg == "--client-names") {
      options.client_names = absl::StrSplit(value, ',', absl::SkipEmpty());
    } else if (arg == "--max-receive-message-bytes") {
      options.max_receive_message_bytes = std::stoi(value);
    } else if (arg == "--max-concurrent-streams") {
      options.max_concurrent_streams_per_connection = std::stoi(value);
    } else if (arg == "--min-ping-interval-ms") {
      options.min_ping_interval = absl::Milliseconds(std::stoi(value));
    } else if (arg == "--max-connection-idle-ms") {
      options.max_connection_idle = absl::Milliseconds(std::stoi(value));
    } else if (arg == "--max-connection-age-ms") {
      options.max_connection_age = absl::Milliseconds(std::stoi(value));
    } else if (arg == "--max-connection-age-grace-ms") {
      options.max_connection_age_grace = absl::Milliseconds(std::stoi(value));
    } else {
      return Usage();
    }
  }
  (void)aa::SetLogLevel("warn");

  aa::SimulatedClock clock;
  aa::keda::testing::FakeProm prom;
  prometheus::Registry registry;
  options.registry = &registry;
  aa::pipeline::Sampler sampler(aa::keda::testing::KedaTestConfig(), prom, clock, &registry);
  sampler.Start();
  auto server = aa::keda::Server::Start(options, aa::pipeline::View(sampler));
  if (!server.ok()) {
    std::cerr << "keda_test_server: " << server.status() << "\n";
    return 1;
  }
  std::cout << "PORT " << (*server)->port() << std::endl;

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "set") {
      std::string token, ns, pod;
      double value;
      if (!(in >> token >> ns >> pod >> value)) {
        std::cout << "error usage: set <token> <namespace> <pod> <value>" << std::endl;
        continue;
      }
      prom.Set(token, ns, pod, value);
      std::cout << "ok" << std::endl;
    } else if (cmd == "erase") {
      std::string token, ns, pod;
      in >> token >> ns >> pod;
      prom.Erase(token, ns, pod);
      std::cout << "ok" << std::endl;
    } else if (cmd == "labels") {
      std::string ns, pod, spec;
      in >> ns >> pod >> spec;
      std::map<std::string, std::string> labels;
      for (absl::string_view kv : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
        std::vector<std::string> parts = absl::StrSplit(kv, absl::MaxSplits('=', 1));
        if (parts.size() == 2) labels[parts[0]] = parts[1];
      }
      prom.SetLabels(ns, pod, labels);
      std::cout << "ok" << std::endl;
    } else if (cmd == "down") {
      int down = 0;
      in >> down;
      prom.SetDown(down != 0);
      std::cout << "ok" << std::endl;
    } else if (cmd == "tick") {
      uint64_t generation = sampler.snapshot()->generation;
      clock.Advance(absl::Seconds(5));
      sampler.Wake();
      if (!sampler.WaitForGeneration(generation + 1, absl::Seconds(30))) {
        std::cout << "error no snapshot published" << std::endl;
        continue;
      }
      uint64_t published = sampler.snapshot()->generation;
      if (!(*server)->WaitForPushed(published, absl::Seconds(30))) {
        std::cout << "error streams not evaluated" << std::endl;
        continue;
      }
      std::cout << "ok " << published << std::endl;
    } else if (cmd == "streams") {
      std::cout << "ok " << (*server)->open_streams() << std::endl;
    } else if (cmd == "waitstreams") {
      size_t n = 0;
      in >> n;
      if ((*server)->WaitForOpenStreams(n, absl::Seconds(30))) {
        std::cout << "ok" << std::endl;
      } else {
        std::cout << "error " << (*server)->open_streams() << " streams open" << std::endl;
      }
    } else if (cmd == "quit") {
      break;
    } else if (!cmd.empty()) {
      std::cout << "error unknown command " << cmd << std::endl;
    }
  }
  (*server)->Shutdown(absl::Seconds(5));
  sampler.Stop();
  return 0;
}

#include "demo/closedloop/report.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "demo/proc/subprocess.h"

namespace aa::closedloop {
namespace {

std::string Num(double v, int precision = 1) {
  return std::isfinite(v) ? absl::StrFormat("%.*f", precision, v) : "-";
}

std::string CsvNum(double v) { return std::isfinite(v) ? absl::StrFormat("%.4g", v) : ""; }

std::string Fit(const std::string& s, size_t width) {
  return s.size() <= width ? s : s.substr(0, width - 3) + "...";
}

double MaxLoad(const Scenario& sc, ModelKind kind) {
  double m = 0;
  for (const Phase& p : sc.phases) m = std::max({m, p.load, p.to});
  return m * (kind == ModelKind::kCpu   ? sc.cpu_base_rps
              : kind == ModelKind::kLlm ? sc.llm_base_rps
                                        : sc.concurrency_base_rps);
}

int After(const Row& r) { return r.set_replicas >= 0 ? r.set_replicas : r.desired; }

// The last decision of a mode up to the latest row, with its time.
std::string LastDecision(const std::vector<Row>& rows) {
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    if (!it->decision.empty()) return absl::StrCat("t=", Num(it->t, 0), " ", it->decision);
  }
  return "";
}

std::string ObservedText(const ModeSpec& m, double v) {
  if (!std::isfinite(v)) return "-";
  if (m.model == ModelKind::kCpu) return absl::StrFormat("%.0f%% cpu", v);
  if (m.model == ModelKind::kLlm) return absl::StrFormat("%.0f%% tgt", v);
  return absl::StrFormat("%.1f/pod", v);
}

}  // namespace

std::string LiveTable(const ClosedLoop& loop) {
  const auto& rows = loop.rows();
  if (rows.empty() || rows[0].empty()) return "";
  const Row& head = rows[0].back();
  const int total = loop.steps();
  const int done = head.step + 1;
  const int width = 40;
  const int filled = total > 0 ? done * width / total : width;
  std::string out = absl::StrFormat("t=%4.0fs / %.0fs  phase %-7s [%s%s] %3d%%\n", head.t,
                                    absl::ToDoubleSeconds(loop.scenario().Length()), head.phase,
                                    std::string(filled, '#'), std::string(width - filled, '.'),
                                    total > 0 ? done * 100 / total : 100);
  absl::StrAppendFormat(&out, "%-22s %7s %9s %6s %7s %10s  %s\n", "mode", "load", "replicas",
                        "queue", "util", "observed", "last decision");
  const std::vector<std::string> states = loop.States();
  for (size_t i = 0; i < rows.size(); ++i) {
    const ModeSpec& m = loop.modes()[i];
    const Row& r = rows[i].back();
    std::string decision = LastDecision(rows[i]);
    if (!states[i].empty()) decision = absl::StrCat("[", states[i], "] ", decision);
    absl::StrAppendFormat(&out, "%-22s %5.0f/s %4d/%-4d %6d %6s%% %10s  %s\n", m.name, r.load_rps,
                          After(r), r.ready, r.queue, Num(r.utilization, 0),
                          ObservedText(m, r.observed), Fit(decision, 60));
  }
  return out;
}

std::string LiveLines(const ClosedLoop& loop) {
  std::string out;
  const auto& rows = loop.rows();
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].empty()) continue;
    const Row& r = rows[i].back();
    absl::StrAppendFormat(&out,
                          "t=%.0fs %s %s: load %.0f/s replicas %d ready %d queue %d util %s%% "
                          "observed %s %s\n",
                          r.t, r.phase, loop.modes()[i].name, r.load_rps, After(r), r.ready,
                          r.queue, Num(r.utilization, 0), ObservedText(loop.modes()[i], r.observed),
                          LastDecision(rows[i]));
  }
  return out;
}

std::string SummaryTable(const std::vector<ModeSummary>& summary, const Scenario& sc) {
  std::string out =
      "| mode | burst to enough capacity | peak replicas (needed) | pod-seconds | requests "
      "queued | flaps at steady (replicas at end) | back to min after drop |\n"
      "|---|---|---|---|---|---|---|\n";
  for (const ModeSummary& m : summary) {
    absl::StrAppendFormat(&out, "| %s | %s | %d (%d) | %.0f | %.1f %% of %d%s | %d (%d) | %s |\n",
                          m.mode.title,
                          m.time_to_capacity >= 0 ? absl::StrFormat("%.0f s", m.time_to_capacity)
                                                  : std::string("never"),
                          m.peak, m.needed, m.pod_seconds, 100 * m.queued_share, m.arrived,
                          m.dropped > 0 ? absl::StrCat(", ", m.dropped, " dropped") : "",
                          m.steady_direction_changes, m.steady_end_replicas,
                          m.back_to_min >= 0 ? absl::StrFormat("%.0f s", m.back_to_min)
                                             : std::string("not within the run"));
  }
  // The LLM modes' own figures: time to first token while the load is high, and the cost.
  std::string llm;
  for (const ModeSummary& m : summary) {
    if (m.mode.model != ModelKind::kLlm) continue;
    absl::StrAppendFormat(&llm, "| %s | %s | %.0f | %d (%d) |\n", m.mode.title,
                          m.ttft_p95 >= 0 ? absl::StrFormat("%.1f s", m.ttft_p95) : "-",
                          m.pod_seconds, m.peak, m.needed);
  }
  if (!llm.empty()) {
    absl::StrAppend(&out,
                    "\n| LLM mode | TTFT p95, burst + steady | pod-seconds | peak replicas "
                    "(needed) |\n|---|---|---|---|\n",
                    llm);
  }
  // The scale-from-zero modes' own figures: the cold start of the first requests.
  std::string zero;
  for (const ModeSummary& m : summary) {
    if (!m.mode.from_zero) continue;
    absl::StrAppendFormat(
        &zero, "| %s | %s | %d | %s | %s |\n", m.mode.title,
        m.first_ready >= 0 ? absl::StrFormat("%.1f s", m.first_ready) : std::string("never"),
        m.dropped,
        m.first_wait_max >= 0 ? absl::StrFormat("%.1f s / %.1f s (%d requests)", m.first_wait_max,
                                                m.first_wait_median, m.first_waits_count)
                              : std::string("-"),
        m.back_to_min >= 0 ? absl::StrFormat("%.0f s", m.back_to_min)
                           : std::string("not within the run"));
  }
  if (!zero.empty()) {
    absl::StrAppend(&out,
                    "\n| scale-from-zero mode | first request to first ready pod | requests lost | "
                    "wait of the first requests, max / median | back to 0 after drop |\n"
                    "|---|---|---|---|---|\n",
                    zero);
  }
  absl::StrAppendFormat(
      &out,
      "\nburst %.0fs at %gx the base load, steady %.0fs, drop %.0fs; HPA sync %s, scale-down "
      "stabilization %s; pods start in %s\n",
      absl::ToDoubleSeconds(sc.PhaseStart("steady") - sc.PhaseStart("burst")),
      sc.PhaseMaxLoad("burst"),
      absl::ToDoubleSeconds(sc.PhaseStart("drop") - sc.PhaseStart("steady")),
      absl::ToDoubleSeconds(sc.Length() - sc.PhaseStart("drop")),
      absl::FormatDuration(sc.autoscaling.sync_period),
      absl::FormatDuration(sc.autoscaling.scale_down_stabilization),
      absl::FormatDuration(sc.autoscaling.pod_start_delay));
  return out;
}

absl::Status WriteCsv(const ClosedLoop& loop, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  for (size_t i = 0; i < loop.modes().size(); ++i) {
    const std::string path = absl::StrCat(dir, "/", loop.modes()[i].name, ".csv");
    std::ofstream f(path);
    f << "step,t,phase,load_rps,desired,ready,pods,queue,demand,utilization_pct,observed,"
         "set_replicas,replicas,needed,decision\n";
    for (const Row& r : loop.rows()[i]) {
      f << r.step << ',' << r.t << ',' << r.phase << ',' << CsvNum(r.load_rps) << ',' << r.desired
        << ',' << r.ready << ',' << r.pods << ',' << r.queue << ',' << CsvNum(r.demand) << ','
        << CsvNum(r.utilization) << ',' << CsvNum(r.observed) << ','
        << (r.set_replicas >= 0 ? absl::StrCat(r.set_replicas) : "") << ',' << After(r) << ','
        << r.needed << ",\"" << absl::StrReplaceAll(r.decision, {{"\"", "'"}}) << "\"\n";
    }
    f.close();
    if (!f) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  const std::string path = dir + "/summary.csv";
  std::ofstream f(path);
  f << "mode,needed,time_to_capacity_s,peak,pod_seconds,queued_share,arrived,dropped,"
       "steady_direction_changes,steady_end_replicas,back_to_min_s,failed_syncs,ttft_p95_s,"
       "first_ready_s,first_wait_max_s,first_wait_median_s\n";
  for (const ModeSummary& m : loop.Summarize()) {
    f << m.mode.name << ',' << m.needed << ',' << CsvNum(m.time_to_capacity) << ',' << m.peak << ','
      << CsvNum(m.pod_seconds) << ',' << CsvNum(m.queued_share) << ',' << m.arrived << ','
      << m.dropped << ',' << m.steady_direction_changes << ',' << m.steady_end_replicas << ','
      << CsvNum(m.back_to_min) << ',' << m.decisions_failed << ','
      << (m.ttft_p95 >= 0 ? CsvNum(m.ttft_p95) : "") << ','
      << (m.first_ready >= 0 ? CsvNum(m.first_ready) : "") << ','
      << (m.first_wait_max >= 0 ? CsvNum(m.first_wait_max) : "") << ','
      << (m.first_wait_median >= 0 ? CsvNum(m.first_wait_median) : "") << '\n';
  }
  f.close();
  if (!f) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status RenderPlots(const ClosedLoop& loop, const std::string& dir,
                         const std::string& gnuplot_bin) {
  const Scenario& sc = loop.scenario();
  // CSV columns (WriteCsv): 2 t, 4 load_rps, 6 ready, 8 queue, 10 utilization_pct, 11 observed,
  // 13 replicas, 14 needed. Every panel's key sits in the right margin beside it; the plot areas
  // share their left and right edges so the time axes line up.
  std::string gp =
      "set datafile separator ','\n"
      "set grid\nset key outside right top vertical Left reverse samplen 3 spacing 1.1 box\n"
      "set tmargin 1.5\nset bmargin 1.5\nset lmargin at screen 0.08\n"
      "set rmargin at screen 0.70\n";
  // Phase boundaries as dashed lines with their names.
  std::string phases;
  absl::Duration start;
  for (const Phase& p : sc.phases) {
    absl::StrAppendFormat(&phases,
                          "set arrow from %.1f, graph 0 to %.1f, graph 1 nohead dt 2 lc 'gray50'\n"
                          "set label '%s' at first %.1f, graph 1.06 offset 0.3,0 tc 'gray30'\n",
                          absl::ToDoubleSeconds(start), absl::ToDoubleSeconds(start), p.name,
                          absl::ToDoubleSeconds(start));
    start += p.duration;
  }
  const double length = absl::ToDoubleSeconds(sc.Length());
  const std::string needed_line =
      "'' skip 1 using 2:14 with steps dt 3 lw 2 lc 'red' title 'needed for the load'";
  for (size_t i = 0; i < loop.modes().size(); ++i) {
    const ModeSpec& m = loop.modes()[i];
    const bool cpu = m.model == ModelKind::kCpu;
    const bool llm = m.model == ModelKind::kLlm;
    const std::string csv = absl::StrCat(dir, "/", m.name, ".csv");
    absl::StrAppendFormat(&gp,
                          "set terminal pngcairo size 1100,1200 font 'sans,10'\n"
                          "set output '%s/%s.png'\n"
                          "set multiplot layout 4,1 title '%s' font 'sans,12'\n"
                          "set xrange [0:%.0f]\nunset xlabel\n%s",
                          dir, m.name, m.title, length, phases);
    absl::StrAppendFormat(&gp,
                          "set ylabel 'load (requests/s)'\nset yrange [0:*]\n"
                          "plot '%s' skip 1 using 2:4 with steps lw 2 lc 'black' title "
                          "'arrival rate'\n",
                          csv);
    absl::StrAppendFormat(&gp,
                          "set ylabel 'replicas'\nset yrange [0:%d]\n"
                          "plot '%s' skip 1 using 2:13 with steps lw 2 lc 'blue' title 'desired', "
                          "'' skip 1 using 2:6 with steps lw 2 dt (6,3) lc 'dark-green' title "
                          "'ready', %s\n",
                          sc.autoscaling.max_replicas + 1, csv, needed_line);
    absl::StrAppendFormat(&gp,
                          "set ylabel 'requests waiting'\nset yrange [0:*]\n"
                          "plot '%s' skip 1 using 2:8 with filledcurves y1=0 fs transparent "
                          "solid 0.35 lc 'dark-orange' title 'queued (all pods busy)'\n",
                          csv);
    absl::StrAppendFormat(
        &gp,
        "set xlabel 'time (s)'\nset ylabel '%s (log)'\nset logscale y\nset yrange [1:*]\n"
        "plot '%s' skip 1 using 2:10 with lines lw 1.5 lc 'purple' title 'actual (simulator)', "
        "'' skip 1 using 2:($11%s) with steps lw 1.5 lc 'dark-orange' title 'what the autoscaler "
        "saw', %d with lines dt 3 lw 2 lc 'red' title 'target'\n"
        "unset multiplot\nunset arrow\nunset label\nunset logscale y\n",
        cpu   ? "CPU utilization (% of request)"
        : llm ? "% of target (12 running/pod)"
              : "utilization (% of 70 in flight/pod)",
        csv, cpu || llm ? "" : "/0.7", cpu ? kCpuTargetPercent : 100);
  }
  // The overview: per model the modes run, every mode's replicas against the load and the needed
  // replicas, and below them every mode's queue. Lines of modes that decide alike (the HPA and
  // KEDA on one metric) would hide each other: each mode has its own colour and dash type, and
  // its replicas line is shifted by a small step (a few hundredths of a replica).
  std::set<ModelKind> kinds;
  for (const ModeSpec& m : loop.modes()) kinds.insert(m.model);
  const int panels = 2 * static_cast<int>(kinds.size());
  absl::StrAppendFormat(
      &gp,
      "set terminal pngcairo size 1300,%d font 'sans,10'\n"
      "set output '%s/overview.png'\n"
      "set multiplot layout %d,1 title 'Replicas and queued requests per mode over time "
      "(seconds); replicas lines offset by a few hundredths so equal ones stay visible' font "
      "'sans,12'\nset xrange [0:%.0f]\nset rmargin at screen 0.64\n"
      "set key at screen 0.71, graph 1 left top Left reverse samplen 3 box\nunset xlabel\n%s",
      panels * 280 + 60, dir, panels, length, phases);
  // Not red: the needed replicas are red.
  const char* colors[] = {"blue",  "dark-orange", "dark-green", "purple",
                          "black", "dark-cyan",   "goldenrod"};
  const char* dashes[] = {"1", "(8,4)", "(2,3)", "(12,4,2,4)", "(4,4)", "(16,6)", "(2,6)"};
  int panel = 0;
  for (ModelKind kind : {ModelKind::kConcurrency, ModelKind::kCpu, ModelKind::kLlm}) {
    std::string replicas, queue;
    int n = 0;
    std::string load_csv;
    for (size_t i = 0; i < loop.modes().size(); ++i) {
      const ModeSpec& m = loop.modes()[i];
      if (m.model != kind) continue;
      const std::string csv = absl::StrCat(dir, "/", m.name, ".csv");
      if (load_csv.empty()) load_csv = csv;
      const std::string title =
          absl::StrReplaceAll(m.title.substr(m.title.find(", ") + 2), {{" (metrics.k8s.io)", ""}});
      const double offset = 0.07 * n - 0.14;
      absl::StrAppendFormat(&replicas,
                            "%s'%s' skip 1 using 2:($13%+.2f) with steps lw 2 lc '%s' dt %s "
                            "title '%s'",
                            replicas.empty() ? "" : ", ", csv, offset, colors[n % 7], dashes[n % 7],
                            title);
      absl::StrAppendFormat(&queue,
                            "%s'%s' skip 1 using 2:8 with steps lw 2 lc '%s' dt %s title '%s'",
                            queue.empty() ? "" : ", ", csv, colors[n % 7], dashes[n % 7], title);
      ++n;
    }
    if (replicas.empty()) continue;
    const char* model = kind == ModelKind::kCpu   ? "cpu-model"
                        : kind == ModelKind::kLlm ? "llm-model"
                                                  : "concurrency-model";
    ++panel;
    absl::StrAppendFormat(
        &gp,
        "set ylabel '%s replicas'\nset yrange [0:%d]\nset y2label 'load (requests/s)'\n"
        "set y2tics\nset y2range [0:%.0f]\nunset xlabel\n"
        "plot %s, '%s' skip 1 using 2:14 with steps dt 3 lw 2 lc 'red' title 'needed for the "
        "load', '' skip 1 using 2:4 axes x1y2 with lines lw 1 lc 'gray60' title 'load (right "
        "axis)'\n",
        model, sc.autoscaling.max_replicas + 1, MaxLoad(sc, kind) * 1.25 + 1, replicas, load_csv);
    ++panel;
    absl::StrAppendFormat(&gp,
                          "unset y2label\nunset y2tics\nset ylabel '%s: requests waiting'\n"
                          "set yrange [0:*]\n%splot %s\n",
                          model, panel == panels ? "set xlabel 'time (s)'\n" : "", queue);
  }
  gp += "unset multiplot\n";
  const std::string script = dir + "/plots.gp";
  {
    std::ofstream f(script);
    f << gp;
    f.close();
    if (!f) return absl::UnavailableError(absl::StrCat("cannot write ", script));
  }
  const std::string log = dir + "/gnuplot.log";
  std::filesystem::remove(log);
  auto p = proc::Subprocess::Start({{gnuplot_bin, script}, log, ""});
  if (!p.ok()) return p.status();
  if (!proc::PollUntil([&] { return !(*p)->Running(); }, absl::Seconds(60),
                       absl::Milliseconds(50))) {
    return absl::DeadlineExceededError("gnuplot did not finish within 60s");
  }
  const int code = (*p)->Stop();
  if (code != 0) {
    return absl::UnavailableError(
        absl::StrCat("gnuplot failed (exit ", code, "): ", (*p)->LogTail(10)));
  }
  return absl::OkStatus();
}

}  // namespace aa::closedloop

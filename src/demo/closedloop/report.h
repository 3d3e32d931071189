#pragma once
// What the closed loop shows and leaves behind: the live table, the summary table, CSV files and
// gnuplot PNG plots.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "demo/closedloop/loop.h"

namespace aa::closedloop {

// The live frame after the latest step: a progress line (time, phase, bar) and one line per mode
// (load, replicas desired/ready, queue, utilization, what the autoscaler saw, its last decision).
std::string LiveTable(const ClosedLoop& loop);
// One compact line per mode for logs (non-terminal output).
std::string LiveLines(const ClosedLoop& loop);

// The summary as a Markdown table (also readable in a terminal), one row per mode.
std::string SummaryTable(const std::vector<ModeSummary>& summary, const Scenario& scenario);

// Writes <dir>/<mode>.csv (one row per step) and <dir>/summary.csv. Creates `dir`. Unavailable
// naming the file on a write error.
absl::Status WriteCsv(const ClosedLoop& loop, const std::string& dir);

// Writes <dir>/plots.gp and runs gnuplot on it: <dir>/<mode>.png (load, replicas and utilization
// over time) and <dir>/overview.png (every mode's replicas against the load). Reads the CSV files
// WriteCsv wrote. Unavailable with gnuplot's output when it fails.
absl::Status RenderPlots(const ClosedLoop& loop, const std::string& dir,
                         const std::string& gnuplot_bin);

}  // namespace aa::closedloop

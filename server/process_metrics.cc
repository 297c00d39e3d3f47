#include "process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "common/logging.h"

namespace feed_ingest {
namespace {

prometheus::MetricFamily Family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

// Seconds since the epoch at which the system booted, from /proc/stat.
double BootTime() {
  std::ifstream stat("/proc/stat");
  std::string key;
  double value = 0;
  while (stat >> key) {
    if (key == "btime") {
      stat >> value;
      return value;
    }
    stat.ignore(1 << 16, '\n');
  }
  return 0;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));

  // /proc/self/stat: the command may hold spaces, so fields are counted from
  // the last ')'. After it: state(3) ... utime(14) stime(15) ... starttime(22)
  // vsize(23) rss(24).
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0, start = 0, vsize = 0, rss = 0;
    for (int i = 3; fields >> field; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) stime = std::stod(field);
      if (i == 22) start = std::stod(field);
      if (i == 23) vsize = std::stod(field);
      if (i == 24) {
        rss = std::stod(field);
        break;
      }
    }
    out.push_back(Family("process_cpu_seconds_total", "User and system CPU time spent in seconds",
                         MetricType::Counter, (utime + stime) / ticks));
    out.push_back(Family("process_start_time_seconds",
                         "Start time of the process since unix epoch in seconds", MetricType::Gauge,
                         BootTime() + start / ticks));
    out.push_back(Family("process_virtual_memory_bytes", "Virtual memory size in bytes",
                         MetricType::Gauge, vsize));
    out.push_back(Family("process_resident_memory_bytes", "Resident memory size in bytes",
                         MetricType::Gauge, rss * page));
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    double fds = 0;
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++fds;
    }
    closedir(dir);
    out.push_back(Family("process_open_fds", "Number of open file descriptors", MetricType::Gauge,
                         fds - 1));  // Less the one opendir() holds.
  }
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back(Family("process_max_fds", "Maximum number of open file descriptors",
                         MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
  }
  // Not /proc, but the process's own: lines its log dropped (logging.h).
  out.push_back(Family("feed_ingest_log_lines_dropped_total",
                       "Log lines dropped because stderr did not take them in time",
                       MetricType::Counter, static_cast<double>(LogLinesDropped())));
  return out;
}

}  // namespace feed_ingest

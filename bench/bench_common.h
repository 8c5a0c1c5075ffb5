#pragma once
// Helpers shared by the benchmark drivers: option parsing, timing and the JSON line every
// driver prints per measured case (the format bench/report.py reads, same as bench/peers).

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/precision.h"

namespace vitrine::bench {

/// "--key value" / "--flag" pairs after the positional arguments.
class Args {
public:
    Args(int argc, char** argv, int first = 1) {
        for (int i = first; i < argc; ++i) {
            std::string a = argv[i];
            if (a.rfind("--", 0) != 0)
                continue;
            if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0)
                m_values[a.substr(2)] = argv[++i];
            else
                m_values[a.substr(2)] = "1";
        }
    }
    bool has(const std::string& k) const { return m_values.count(k) > 0; }
    double num(const std::string& k, double def) const { return has(k) ? std::stod(m_values.at(k)) : def; }
    std::string str(const std::string& k, const std::string& def) const { return has(k) ? m_values.at(k) : def; }
    std::vector<std::string> list(const std::string& k, const std::string& def) const {
        std::vector<std::string> out;
        std::stringstream ss(str(k, def));
        for (std::string item; std::getline(ss, item, ',');)
            if (!item.empty())
                out.push_back(item);
        return out;
    }

private:
    std::map<std::string, std::string> m_values;
};

inline double seconds(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// User + system CPU seconds of this process.
inline double cpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

inline double median(std::vector<double> v) {
    if (v.empty())
        return 0.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

/// Runs fn once to warm up, then `blocks` timed blocks of `inner` calls; seconds per call.
template <class Fn> std::vector<double> timeBlocks(Fn&& fn, int blocks, int inner = 1, int warmup = 1) {
    for (int i = 0; i < warmup; ++i)
        fn();
    std::vector<double> out;
    for (int b = 0; b < blocks; ++b) {
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < inner; ++i)
            fn();
        out.push_back(seconds(t0) / inner);
    }
    return out;
}

/// One result line: {"workload", "case", "side": "vitrine", "value", "unit", "higher_is_better", ...extra}.
inline void emit(const std::string& workload, const std::string& caseName, double value, const std::string& unit,
                 bool higherIsBetter, nlohmann::json extra = nlohmann::json::object()) {
    extra["workload"] = workload;
    extra["case"] = caseName;
    extra["side"] = "vitrine";
    extra["value"] = value;
    extra["unit"] = unit;
    extra["higher_is_better"] = higherIsBetter;
    if (const char* core = std::getenv("OPENBLAS_CORETYPE"))
        extra["openblas_coretype"] = core;
    // Every record says which CPU, precision choice, kernels and threads it holds on.
    if (!extra.contains("cpu"))
        extra["cpu"] = core::computeSummary();
    std::cout << extra.dump() << std::endl;
}

} // namespace vitrine::bench

#include "core/common/precision.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <sstream>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/version.h>

#include "core/common/error.h"

namespace vitrine::core {

// core/model/precision_probe.cpp: times the real model path both ways.
double measureBf16Speedup();

Precision parsePrecision(const std::string& name) {
    if (name == "auto")
        return Precision::Auto;
    if (name == "fp32" || name == "float32")
        return Precision::Fp32;
    if (name == "bf16" || name == "bfloat16")
        return Precision::Bf16;
    throw Error("unknown precision '" + name + "' (use auto, fp32 or bf16)");
}

const char* precisionName(Precision p) {
    switch (p) {
    case Precision::Auto: return "auto";
    case Precision::Fp32: return "fp32";
    case Precision::Bf16: return "bf16";
    }
    return "auto";
}

std::string CpuFeatures::flagsString() const {
    std::string s;
    auto add = [&](bool on, const char* name) {
        if (on)
            s += (s.empty() ? "" : " ") + std::string(name);
    };
    add(avx2, "AVX2");
    add(fma, "FMA");
    add(avx512f, "AVX512F");
    add(avx512vnni, "AVX512_VNNI");
    add(avx512bf16, "AVX512_BF16");
    add(amxBf16, "AMX_BF16");
    add(amxInt8, "AMX_INT8");
    return s.empty() ? "no AVX2" : s;
}

CpuFeatures parseCpuInfo(const std::string& text) {
    CpuFeatures f;
    std::istringstream in(text);
    std::string line;
    bool haveFlags = false;
    auto valueOf = [](const std::string& l) {
        auto colon = l.find(':');
        if (colon == std::string::npos)
            return std::string();
        auto v = l.substr(colon + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
    };
    while (std::getline(in, line)) {
        if (f.model.empty() && line.rfind("model name", 0) == 0) {
            f.model = valueOf(line);
        } else if (!haveFlags && line.rfind("flags", 0) == 0) {
            haveFlags = true;
            std::istringstream flags(valueOf(line));
            std::string flag;
            while (flags >> flag) {
                if (flag == "avx2") f.avx2 = true;
                else if (flag == "fma") f.fma = true;
                else if (flag == "avx512f") f.avx512f = true;
                else if (flag == "avx512_bf16") f.avx512bf16 = true;
                else if (flag == "amx_bf16") f.amxBf16 = true;
                else if (flag == "amx_int8") f.amxInt8 = true;
                else if (flag == "avx512_vnni") f.avx512vnni = true;
            }
        }
        if (!f.model.empty() && haveFlags)
            break;
    }
    if (f.model.empty())
        f.model = "unknown CPU";
    return f;
}

const CpuFeatures& cpuFeatures() {
    static const CpuFeatures features = [] {
        std::ifstream in("/proc/cpuinfo");
        std::stringstream ss;
        ss << in.rdbuf();
        return parseCpuInfo(ss.str());
    }();
    return features;
}

Precision choosePrecision(const CpuFeatures& cpu, std::optional<double> bf16Speedup) {
    constexpr double kMinSpeedup = 1.15; // below this the rounding is not worth it
    if (cpu.nativeBf16() && bf16Speedup && *bf16Speedup >= kMinSpeedup)
        return Precision::Bf16;
    return Precision::Fp32;
}

namespace {

std::mutex g_probeMutex;
std::optional<double> g_probe;
bool g_probed = false;
bool g_probeFromCache = false;

// The probe's result is kept per machine (CPU model and flags, thread count, LibTorch version)
// in $XDG_CACHE_HOME/vitrine/bf16-probe.json, so only the first program start on a machine
// pays the ~0.3 s; VITRINE_NO_PROBE_CACHE=1 measures every time.
std::filesystem::path probeCacheFile() {
    if (const char* off = std::getenv("VITRINE_NO_PROBE_CACHE"); off && *off && std::string(off) != "0")
        return {};
    std::filesystem::path base;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
        base = xdg;
    else if (const char* home = std::getenv("HOME"); home && *home)
        base = std::filesystem::path(home) / ".cache";
    else
        return {};
    return base / "vitrine" / "bf16-probe.json";
}

std::string probeCacheKey() {
    const auto& cpu = cpuFeatures();
    return cpu.model + " | " + cpu.flagsString() + " | " + std::to_string(at::get_num_threads()) + " threads | torch " +
           TORCH_VERSION;
}

std::optional<double> readCachedProbe(const std::filesystem::path& file, const std::string& key) {
    std::ifstream in(file);
    if (!in)
        return std::nullopt;
    const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains(key) && j[key].is_number())
        return j[key].get<double>();
    return std::nullopt;
}

// Best effort: a cache that cannot be written only costs the next start a probe.
void writeCachedProbe(const std::filesystem::path& file, const std::string& key, double value) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    nlohmann::json j = nlohmann::json::object();
    {
        std::ifstream in(file);
        if (in) {
            auto old = nlohmann::json::parse(in, nullptr, false);
            if (old.is_object())
                j = old;
        }
    }
    j[key] = value;
    const auto tmp = file.string() + ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << j.dump(2) << '\n';
        if (!out)
            return;
    }
    std::filesystem::rename(tmp, file, ec);
    if (ec)
        std::filesystem::remove(tmp, ec);
}

} // namespace

std::optional<double> bf16ProbeSpeedup() {
    if (!cpuFeatures().nativeBf16())
        return std::nullopt;
    std::lock_guard lock(g_probeMutex);
    if (!g_probed) {
        const auto file = probeCacheFile();
        const auto key = probeCacheKey();
        if (!file.empty())
            g_probe = readCachedProbe(file, key);
        g_probeFromCache = g_probe.has_value();
        if (!g_probe) {
            g_probe = measureBf16Speedup();
            if (!file.empty())
                writeCachedProbe(file, key, *g_probe);
        }
        g_probed = true;
    }
    return g_probe;
}

bool bf16ProbeCached() {
    std::lock_guard lock(g_probeMutex);
    return g_probeFromCache;
}

Precision resolvePrecision(Precision requested) {
    if (requested != Precision::Auto)
        return requested;
    if (const char* env = std::getenv("VITRINE_PRECISION"); env && *env && std::string(env) != "auto") {
        try {
            return parsePrecision(env);
        } catch (const Error&) {
            // A typo in the environment must not stop the program: fall back to the automatic choice.
        }
    }
    return choosePrecision(cpuFeatures(), bf16ProbeSpeedup());
}

std::string kernelSummary() {
    const char* core = std::getenv("OPENBLAS_CORETYPE");
    std::string s = "OpenBLAS ";
    s += core && *core ? core : "(own choice)";
    s += at::hasMKLDNN() ? " + oneDNN" : "";
    return s;
}

std::string computeSummary() {
    const auto& cpu = cpuFeatures();
    std::ostringstream out;
    out << cpu.model << " · " << cpu.flagsString() << " · auto → " << precisionName(resolvePrecision(Precision::Auto));
    if (const char* env = std::getenv("VITRINE_PRECISION"); env && *env && std::string(env) != "auto")
        out << " ($VITRINE_PRECISION=" << env << ")";
    else if (auto p = bf16ProbeSpeedup())
        out << " (bf16 probe " << std::fixed << std::setprecision(1) << *p << "×" << (g_probeFromCache ? ", cached" : "")
            << ")";
    else
        out << " (no native bf16)";
    out << " · " << kernelSummary() << " · " << at::get_num_threads() << " thread"
        << (at::get_num_threads() == 1 ? "" : "s");
    return out.str();
}

} // namespace vitrine::core

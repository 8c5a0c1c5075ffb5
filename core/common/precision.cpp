#include "core/common/precision.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <utility>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.h>
#include <torch/version.h>

#include "core/common/error.h"

namespace vitrine::core {

Precision parsePrecision(const std::string& name) {
    if (name == "auto")
        return Precision::Auto;
    if (name == "fp32" || name == "float32")
        return Precision::Fp32;
    if (name == "bf16" || name == "bfloat16")
        return Precision::Bf16;
    if (name == "int8" || name == "qint8")
        return Precision::Int8;
    throw Error("unknown precision '" + name + "' (use auto, fp32, bf16 or int8)");
}

const char* precisionName(Precision p) {
    switch (p) {
    case Precision::Auto: return "auto";
    case Precision::Fp32: return "fp32";
    case Precision::Bf16: return "bf16";
    case Precision::Int8: return "int8";
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
    if (s.empty())
        s = "no AVX2";
    if (!capped.empty())
        s += " (oneDNN capped to " + capped + ")";
    return s;
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
                if (flag == "avx2")
                    f.avx2 = true;
                else if (flag == "fma")
                    f.fma = true;
                else if (flag == "avx512f")
                    f.avx512f = true;
                else if (flag == "avx512_bf16")
                    f.avx512bf16 = true;
                else if (flag == "amx_bf16")
                    f.amxBf16 = true;
                else if (flag == "amx_int8")
                    f.amxInt8 = true;
                else if (flag == "avx512_vnni")
                    f.avx512vnni = true;
            }
        }
        if (!f.model.empty() && haveFlags)
            break;
    }
    if (f.model.empty())
        f.model = "unknown CPU";
    return f;
}

CpuFeatures applyIsaCap(CpuFeatures cpu, const std::string& cap) {
    std::string c;
    for (char ch : cap)
        c += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (c.empty() || c == "ALL")
        return cpu;
    const bool known = c == "SSE41" || c == "AVX" || c == "AVX2" || c == "AVX2_VNNI" || c == "AVX2_VNNI_2" ||
                       c.rfind("AVX512", 0) == 0;
    if (!known)
        return cpu;
    cpu.capped = c;
    const bool avx512 = c.rfind("AVX512", 0) == 0;
    const bool bf16 = c.find("BF16") != std::string::npos || c.find("AMX") != std::string::npos;
    const bool amx = c.find("AMX") != std::string::npos;
    if (!avx512) {
        cpu.avx512f = cpu.avx512vnni = false;
        if (c == "SSE41" || c == "AVX")
            cpu.avx2 = cpu.fma = false;
    }
    if (!bf16)
        cpu.avx512bf16 = false;
    if (!amx)
        cpu.amxBf16 = cpu.amxInt8 = false;
    if (c == "AVX512_CORE")
        cpu.avx512vnni = false;
    return cpu;
}

const CpuFeatures& cpuFeatures() {
    static const CpuFeatures features = [] {
        std::ifstream in("/proc/cpuinfo");
        std::stringstream ss;
        ss << in.rdbuf();
        std::string cap;
        for (const char* name : {"ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"})
            if (const char* v = std::getenv(name); v && *v && cap.empty())
                cap = v;
        return applyIsaCap(parseCpuInfo(ss.str()), cap);
    }();
    return features;
}

Precision choosePrecision(const CpuFeatures& cpu, std::optional<double> bf16Speedup) {
    constexpr double kMinSpeedup = 1.15; // below this the rounding is not worth it
    if (cpu.nativeBf16() && bf16Speedup && *bf16Speedup >= kMinSpeedup)
        return Precision::Bf16;
    return Precision::Fp32;
}

Precision chooseInferencePrecision(const CpuFeatures& cpu, std::optional<double> bf16Speedup,
                                   std::optional<double> int8Speedup, int modelWidth) {
    // int8 rounds more than bf16 (cosine 0.992-0.998 to float32 on real photos against bf16's
    // 0.9999), so it has to be faster than the best of the others by bf16's own margin, and
    // the embedder checks it on the first batch (least cosine 0.9993 on real photos with VNNI,
    // 0.998 with 7-bit activations without). ViT-S/16 at batch 32 with the per-token int8
    // blocks: 1.7x bf16 on an AMD EPYC Zen 5 (VNNI), 1.8x float32 there capped to AVX2.
    constexpr double kInt8MinSpeedup = 1.15; // the bar bf16 has to clear too
    const Precision training = choosePrecision(cpu, bf16Speedup);
    const double base = training == Precision::Bf16 ? *bf16Speedup : 1.0;
    if (int8Speedup && *int8Speedup >= base * kInt8MinSpeedup && (modelWidth == 0 || modelWidth >= kInt8MinWidth))
        return Precision::Int8;
    return training;
}

namespace {

std::mutex g_probeMutex;
ProbeSpeedups g_probe;
bool g_probed = false;
bool g_probeFromCache = false;

// The probe's result is kept per machine (CPU model and flags, thread count, LibTorch version)
// in $XDG_CACHE_HOME/vitrine/precision-probe.json, so only the first program start on a
// machine pays the ~0.5 s; VITRINE_NO_PROBE_CACHE=1 measures every time.
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
    return base / "vitrine" / "precision-probe.json";
}

std::string probeCacheKey() {
    const auto& cpu = cpuFeatures();
    // "probe 4": ViT-S width, alternating rounds; the per-token int8 blocks (probe 3: int8
    // Linear layers through LibTorch's per-tensor dynamic quantisation; probe 1: ViT-Ti width,
    // one precision after the other).
    return cpu.model + " | " + cpu.flagsString() + " | " + std::to_string(at::get_num_threads()) + " threads | torch " +
           TORCH_VERSION + " | probe 4";
}

std::optional<ProbeSpeedups> readCachedProbe(const std::filesystem::path& file, const std::string& key) {
    std::ifstream in(file);
    if (!in)
        return std::nullopt;
    const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains(key) || !j[key].is_object())
        return std::nullopt;
    ProbeSpeedups p;
    const auto& e = j[key];
    if (e.contains("bf16") && e["bf16"].is_number())
        p.bf16 = e["bf16"].get<double>();
    if (e.contains("int8") && e["int8"].is_number())
        p.int8 = e["int8"].get<double>();
    return p;
}

// Best effort: a cache that cannot be written only costs the next start a probe.
void writeCachedProbe(const std::filesystem::path& file, const std::string& key, const ProbeSpeedups& value) {
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
    nlohmann::json e = nlohmann::json::object();
    if (value.bf16)
        e["bf16"] = *value.bf16;
    if (value.int8)
        e["int8"] = *value.int8;
    j[key] = e;
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

const ProbeSpeedups& probe() {
    std::lock_guard lock(g_probeMutex);
    if (!g_probed) {
        const bool bf16 = cpuFeatures().nativeBf16(), int8 = int8Available();
        const auto file = probeCacheFile();
        const auto key = probeCacheKey();
        std::optional<ProbeSpeedups> cached;
        if (!file.empty() && (bf16 || int8))
            cached = readCachedProbe(file, key);
        g_probeFromCache = cached.has_value();
        if (cached) {
            g_probe = *cached;
        } else if (bf16 || int8) {
            g_probe = measurePrecisionSpeedups(bf16, int8);
            if (!file.empty())
                writeCachedProbe(file, key, g_probe);
        }
        g_probed = true;
    }
    return g_probe;
}

// The probe's figures when they are known without measuring now (measured earlier in this
// process, or in the cache file).
bool probeKnown() {
    std::lock_guard lock(g_probeMutex);
    if (g_probed)
        return true;
    const bool bf16 = cpuFeatures().nativeBf16(), int8 = int8Available();
    if (!bf16 && !int8) {
        g_probed = true;
        return true;
    }
    const auto file = probeCacheFile();
    if (file.empty())
        return false;
    if (auto cached = readCachedProbe(file, probeCacheKey())) {
        g_probe = *cached;
        g_probeFromCache = true;
        g_probed = true;
        return true;
    }
    return false;
}

std::optional<Precision> precisionFromEnvironment() {
    if (const char* env = std::getenv("VITRINE_PRECISION"); env && *env && std::string(env) != "auto") {
        try {
            return parsePrecision(env);
        } catch (const Error&) {
            // A typo in the environment must not stop the program: fall back to the automatic choice.
        }
    }
    return std::nullopt;
}

} // namespace

std::optional<double> bf16ProbeSpeedup() {
    if (!cpuFeatures().nativeBf16())
        return std::nullopt;
    return probe().bf16;
}

std::optional<double> int8ProbeSpeedup() {
    if (!int8Available())
        return std::nullopt;
    return probe().int8;
}

bool bf16ProbeCached() {
    std::lock_guard lock(g_probeMutex);
    return g_probeFromCache;
}

Precision resolvePrecision(Precision requested) {
    if (requested == Precision::Int8)
        return Precision::Fp32;
    if (requested != Precision::Auto)
        return requested;
    if (auto env = precisionFromEnvironment())
        return *env == Precision::Int8 ? Precision::Fp32 : *env;
    return choosePrecision(cpuFeatures(), bf16ProbeSpeedup());
}

Precision resolveInferencePrecision(Precision requested, int modelWidth) {
    if (requested != Precision::Auto)
        return requested;
    if (auto env = precisionFromEnvironment())
        return *env;
    // Where neither bf16 (not native) nor int8 (model too narrow) can be chosen, the probe
    // cannot change the answer: float32 without spending its second on a first start (the
    // bundled ViT-Ti/16 on an AVX2-only CPU, the window's first map).
    if (!cpuFeatures().nativeBf16() && modelWidth > 0 && modelWidth < kInt8MinWidth)
        return Precision::Fp32;
    return chooseInferencePrecision(cpuFeatures(), bf16ProbeSpeedup(), int8ProbeSpeedup(), modelWidth);
}

bool int8Available() {
    // The int8 path's GEMMs are oneDNN's integer GEMM (core/model/int8_gemm.h): one 1x1 product
    // tells whether this libdnnl runs it.
    static const bool available = [] {
        const std::uint8_t a = 3;
        const std::int8_t b = -2;
        std::int32_t c = 0;
        const std::int32_t zero = 0;
        return dnnl_gemm_u8s8s32('N', 'N', 'F', 1, 1, 1, 1.0f, &a, 1, 0, &b, 1, 0, 0.0f, &c, 1, &zero) ==
                   dnnl_success &&
               c == -6;
    }();
    return available;
}

namespace {
thread_local bool t_int8Linears = false;
}

bool int8LinearsEnabled() { return t_int8Linears; }

bool setInt8LinearsEnabled(bool on) { return std::exchange(t_int8Linears, on); }

std::string kernelSummary() {
    const char* core = std::getenv("OPENBLAS_CORETYPE");
    std::string s = "OpenBLAS ";
    s += core && *core ? core : "(own choice)";
    s += at::hasMKLDNN() ? " + oneDNN" : "";
    // How idle OpenMP workers wait (core/common/compute_env.h): it moves bf16 batch-1 speed 2x.
    const char* policy = std::getenv("OMP_WAIT_POLICY");
    const char* spin = std::getenv("GOMP_SPINCOUNT");
    s += std::string(", OpenMP ") + (policy && *policy ? policy : "default wait");
    if (spin && *spin)
        s += std::string(" spin ") + spin;
    return s;
}

std::string computeSummary(bool measure) {
    const auto& cpu = cpuFeatures();
    std::ostringstream out;
    if (!measure && !precisionFromEnvironment() && !probeKnown()) {
        // Not measured yet, and not worth a second here: say what is known without the probe.
        out << cpu.model << " · " << cpu.flagsString() << " · auto → "
            << (cpu.nativeBf16() ? "bf16 or fp32 (probe not run yet)" : "fp32")
            << ", inference chosen per model (probe not run yet) · " << kernelSummary() << " · "
            << at::get_num_threads() << " thread" << (at::get_num_threads() == 1 ? "" : "s");
        return out.str();
    }
    out << cpu.model << " · " << cpu.flagsString() << " · auto → " << precisionName(resolvePrecision(Precision::Auto))
        << ", inference " << precisionName(resolveInferencePrecision(Precision::Auto));
    if (const char* env = std::getenv("VITRINE_PRECISION"); env && *env && std::string(env) != "auto") {
        out << " ($VITRINE_PRECISION=" << env << ")";
    } else {
        const auto b = bf16ProbeSpeedup(), i = int8ProbeSpeedup();
        out << std::fixed << std::setprecision(1) << " (";
        if (b)
            out << "probe bf16 " << *b << "×";
        else
            out << "no native bf16";
        if (i)
            out << ", int8 " << *i << "×";
        out << (bf16ProbeCached() ? ", cached" : "") << ")";
    }
    out << " · " << kernelSummary() << " · " << at::get_num_threads() << " thread"
        << (at::get_num_threads() == 1 ? "" : "s");
    return out.str();
}

} // namespace vitrine::core

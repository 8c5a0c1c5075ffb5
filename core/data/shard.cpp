#include "core/data/shard.h"

#include <algorithm>
#include <cstdio>

#include "core/common/error.h"

namespace vitrine::core::data {

namespace {

constexpr std::uint64_t kFnvOffset = 1469598103934665603ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

std::uint64_t fnv1a(std::uint64_t h, const std::string& text) {
    for (unsigned char c : text) {
        h ^= c;
        h *= kFnvPrime;
    }
    return h;
}

} // namespace

ShardSpec parseShard(const std::string& text) {
    const auto slash = text.find('/');
    auto number = [&](const std::string& part, const char* what) {
        if (part.empty() || part.size() > 6 ||
            !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
            throw Error("--shard " + text + ": " + what + " must be a whole number (the form is I/N, e.g. 0/4)");
        return std::stoi(part);
    };
    if (slash == std::string::npos)
        throw Error("--shard " + text + ": the form is I/N (shard I of N, counted from 0), e.g. 0/4");
    ShardSpec s;
    s.index = number(text.substr(0, slash), "I");
    s.count = number(text.substr(slash + 1), "N");
    if (s.count < 1 || s.count > 100000)
        throw Error("--shard " + text + ": N must be between 1 and 100000");
    if (s.index >= s.count)
        throw Error("--shard " + text + ": I counts from 0, so it must be below N (" + std::to_string(s.count) + ")");
    return s;
}

int shardOfPath(const std::string& relativePath, int count) {
    if (count <= 1)
        return 0;
    return static_cast<int>(fnv1a(kFnvOffset, relativePath) % static_cast<std::uint64_t>(count));
}

std::string fileListFingerprint(const Dataset& dataset) {
    std::vector<std::string> names;
    names.reserve(dataset.samples.size());
    for (const auto& s : dataset.samples)
        names.push_back(s.relativePath);
    std::sort(names.begin(), names.end());
    std::uint64_t h = kFnvOffset;
    for (const auto& n : names)
        h = fnv1a(fnv1a(h, n), std::string(1, '\n'));
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return hex;
}

} // namespace vitrine::core::data

#include "core/model/safetensors_header.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "core/common/error.h"

namespace vitrine::core::model {

namespace {

constexpr std::size_t kMaxNameBytes = 4096;

Error invalid(const std::filesystem::path& file, const std::string& problem) {
    return Error(file, "not a valid safetensors file: " + problem);
}

} // namespace

std::uint64_t safetensorsDtypeSize(std::string_view dtype) {
    static constexpr std::pair<std::string_view, std::uint64_t> kSizes[] = {
        {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I64", 8},
        {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U8", 1},  {"BOOL", 1},
    };
    for (const auto& [name, size] : kSizes)
        if (dtype == name)
            return size;
    return 0;
}

std::uint64_t safetensorsPrefixSize(std::string_view first8, std::uint64_t fileSize,
                                    const std::filesystem::path& file, const SafetensorsReadOptions& options) {
    if (fileSize < 8 || first8.size() < 8)
        throw invalid(file, "shorter than the 8-byte header length (" + std::to_string(fileSize) + " bytes)");
    std::uint64_t headerLen = 0;
    for (int i = 7; i >= 0; --i)
        headerLen = (headerLen << 8) | static_cast<unsigned char>(first8[static_cast<std::size_t>(i)]);
    if (headerLen > options.maxHeaderBytes)
        throw invalid(file, "header length " + std::to_string(headerLen) + " exceeds the limit of " +
                                std::to_string(options.maxHeaderBytes) + " bytes");
    if (headerLen > fileSize - 8)
        throw invalid(file, "header length " + std::to_string(headerLen) + " runs past the end of the file (" +
                                std::to_string(fileSize) + " bytes)");
    if (headerLen < 2)
        throw invalid(file, "header is empty");
    return 8 + headerLen;
}

SafetensorsHeader parseSafetensorsHeader(std::string_view prefix, std::uint64_t fileSize,
                                         const std::filesystem::path& file, const SafetensorsReadOptions& options) {
    auto fail = [&](const std::string& problem) { return invalid(file, problem); };
    const std::uint64_t prefixSize = safetensorsPrefixSize(prefix, fileSize, file, options);
    if (prefix.size() < prefixSize)
        throw Error(file, "cannot read the header (file shorter than it said)");
    const std::string_view text = prefix.substr(8, static_cast<std::size_t>(prefixSize - 8));

    // nlohmann keeps the last of duplicate keys silently; catch them while parsing.
    std::set<std::string> seen;
    std::string duplicate;
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text, [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
            if (depth == 1 && ev == nlohmann::json::parse_event_t::key && parsed.is_string()) {
                auto k = parsed.get<std::string>();
                if (!seen.insert(k).second && duplicate.empty())
                    duplicate = k;
            }
            return true;
        });
    } catch (const nlohmann::json::exception& e) {
        throw fail(std::string("header is not valid JSON (") + e.what() + ")");
    }
    if (!duplicate.empty())
        throw fail("tensor '" + duplicate + "' is listed twice");
    if (!j.is_object())
        throw fail("header is not a JSON object");

    SafetensorsHeader h;
    h.dataStart = prefixSize;
    const std::uint64_t dataSize = fileSize - h.dataStart;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& name = it.key();
        const auto& v = it.value();
        if (name == "__metadata__") {
            if (!v.is_object())
                throw fail("__metadata__ is not an object");
            for (auto m = v.begin(); m != v.end(); ++m) {
                if (!m.value().is_string())
                    throw fail("__metadata__ value '" + m.key() + "' is not a string");
                h.metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        // Real names are short ("blocks.11.attn.qkv.weight"). The layout detection matches them
        // with std::regex, which recurses per character: a 120 KB string overflowed the stack
        // of the old regex-based .npy header parser.
        if (name.size() > kMaxNameBytes)
            throw fail("a tensor name is " + std::to_string(name.size()) + " bytes long (limit " +
                       std::to_string(kMaxNameBytes) + ")");
        auto bad = [&](const std::string& what) { return fail("tensor '" + name + "': " + what); };
        if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
            throw bad("needs 'dtype', 'shape' and 'data_offsets'");
        if (!v["dtype"].is_string())
            throw bad("dtype is not a string");
        SafetensorsEntry e;
        e.name = name;
        e.dtype = v["dtype"].get<std::string>();
        const std::uint64_t itemSize = safetensorsDtypeSize(e.dtype);
        if (itemSize == 0)
            throw bad("unsupported dtype '" + e.dtype + "' (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
        if (!v["shape"].is_array() || v["shape"].size() > 16)
            throw bad("shape is not an array of at most 16 dimensions");
        std::uint64_t bytes = itemSize;
        for (const auto& d : v["shape"]) {
            if (!d.is_number_unsigned())
                throw bad("shape has a negative or non-integer dimension");
            const auto dim = d.get<std::uint64_t>();
            if (dim > (1ull << 40) || (dim != 0 && bytes > UINT64_MAX / dim))
                throw bad("shape is too large (overflow)");
            bytes *= dim;
            e.shape.push_back(static_cast<std::int64_t>(dim));
        }
        const auto& off = v["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            throw bad("data_offsets is not a pair of non-negative integers");
        e.begin = off[0].get<std::uint64_t>();
        e.end = off[1].get<std::uint64_t>();
        if (e.end < e.begin)
            throw bad("data_offsets end before they begin");
        if (e.end > dataSize)
            throw bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                      "] run past the end of the data (" + std::to_string(dataSize) + " bytes)");
        if (e.end - e.begin != bytes)
            throw bad("byte range of " + std::to_string(e.end - e.begin) + " bytes does not match shape x dtype (" +
                      std::to_string(bytes) + " bytes)");
        h.entries.push_back(std::move(e));
    }
    std::sort(h.entries.begin(), h.entries.end(), [](const auto& a, const auto& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::uint64_t pos = 0;
    for (const auto& e : h.entries) {
        if (e.begin < pos)
            throw fail("tensor '" + e.name + "' overlaps the previous tensor's data");
        if (e.begin > pos)
            throw fail("gap of " + std::to_string(e.begin - pos) + " bytes before tensor '" + e.name + "'");
        pos = e.end;
    }
    if (pos != dataSize)
        throw fail(std::to_string(dataSize - pos) + " bytes of data after the last tensor (file truncated or padded?)");
    return h;
}

} // namespace vitrine::core::model

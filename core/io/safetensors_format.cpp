#include "core/io/safetensors_format.h"

#include <algorithm>
#include <cstring>
#include <ostream>
#include <set>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/files.h"

namespace vitrine::core::io {

namespace {

constexpr std::size_t kMaxNameBytes = 4096;

Error invalid(const std::filesystem::path& file, const std::string& problem) {
    return Error(file, "not a valid safetensors file: " + problem);
}

struct DtypeSize {
    std::string_view name;
    std::uint64_t size;
    bool tensorReadable; ///< core/model/safetensors.cpp has an at::ScalarType for it
};

constexpr DtypeSize kDtypes[] = {
    {"F32", 4, true},  {"F16", 2, true},  {"BF16", 2, true}, {"F64", 8, true},      {"I64", 8, true},
    {"I32", 4, true},  {"I16", 2, true},  {"I8", 1, true},   {"U8", 1, true},       {"BOOL", 1, true},
    {"U16", 2, false}, {"U32", 4, false}, {"U64", 8, false}, {"F8_E4M3", 1, false}, {"F8_E5M2", 1, false},
};

const DtypeSize* findDtype(std::string_view dtype) {
    for (const auto& d : kDtypes)
        if (dtype == d.name)
            return &d;
    return nullptr;
}

} // namespace

std::uint64_t safetensorsDtypeSize(std::string_view dtype) {
    const auto* d = findDtype(dtype);
    return d ? d->size : 0;
}

std::uint64_t safetensorsPrefixSize(std::string_view first8, std::uint64_t fileSize, const std::filesystem::path& file,
                                    const SafetensorsReadOptions& options) {
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
        const auto* dtype = findDtype(e.dtype);
        const std::uint64_t itemSize = dtype && (dtype->tensorReadable || options.anyFormatDtype) ? dtype->size : 0;
        if (itemSize == 0)
            throw bad("unsupported dtype '" + e.dtype +
                      "' (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
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
    std::sort(h.entries.begin(), h.entries.end(),
              [](const auto& a, const auto& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
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

std::string formatSafetensorsPrefix(std::vector<SafetensorsEntry>& entries,
                                    const std::map<std::string, std::string>& metadata) {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (auto& e : entries) {
        std::uint64_t bytes = safetensorsDtypeSize(e.dtype);
        for (const auto d : e.shape)
            bytes *= static_cast<std::uint64_t>(d);
        e.begin = offset;
        e.end = offset + bytes;
        header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}};
        offset = e.end;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    std::string out(8, '\0');
    const std::uint64_t len = text.size();
    for (int i = 0; i < 8; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xff);
    return out + text;
}

std::string formatSafetensors(const std::vector<NamedMatrix>& tensors,
                              const std::map<std::string, std::string>& metadata) {
    std::vector<SafetensorsEntry> entries;
    entries.reserve(tensors.size());
    for (const auto& t : tensors)
        entries.push_back({t.name, "F32", {t.matrix->rows, t.matrix->cols}});
    std::string out = formatSafetensorsPrefix(entries, metadata);
    out.reserve(out.size() + (entries.empty() ? 0 : entries.back().end));
    for (const auto& t : tensors)
        out.append(reinterpret_cast<const char*>(t.matrix->data.data()), t.matrix->data.size() * sizeof(float));
    return out;
}

void writeSafetensors(std::ostream& out, const std::vector<std::pair<std::string, core::MatrixView>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    std::vector<SafetensorsEntry> entries;
    entries.reserve(tensors.size());
    for (const auto& [name, m] : tensors)
        entries.push_back({name, "F32", {m.rows, m.cols}});
    const std::string prefix = formatSafetensorsPrefix(entries, metadata);
    out.write(prefix.data(), static_cast<std::streamsize>(prefix.size()));
    for (const auto& [name, m] : tensors) {
        const std::int64_t block = std::max<std::int64_t>(1,
                                                          (std::int64_t(1) << 22) / std::max<std::int64_t>(1, m.cols));
        for (std::int64_t start = 0; start < m.rows; start += block) {
            const std::int64_t end = std::min(m.rows, start + block);
            out.write(reinterpret_cast<const char*>(m.row(start)),
                      static_cast<std::streamsize>((end - start) * m.cols * std::int64_t(sizeof(float))));
            m.releasePages(start, end);
        }
    }
}

std::map<std::string, core::Matrix> readSafetensorsMatrices(const std::filesystem::path& file,
                                                            std::map<std::string, std::string>* metadata) {
    return parseSafetensorsMatrices(readFile(file), file, metadata);
}

std::map<std::string, core::Matrix> parseSafetensorsMatrices(std::string_view bytes, const std::filesystem::path& file,
                                                             std::map<std::string, std::string>* metadata) {
    SafetensorsReadOptions options;
    options.anyFormatDtype = true; // other tensors beside the embeddings (labels as U32, ...) are skipped
    const auto header = parseSafetensorsHeader(bytes, file, options);
    if (metadata)
        for (const auto& [key, value] : header.metadata)
            (*metadata)[key] = value;
    std::map<std::string, core::Matrix> out;
    for (const auto& e : header.entries) {
        if ((e.dtype != "F32" && e.dtype != "F64") || e.shape.empty() || e.shape.size() > 2)
            continue;
        // The header parser has checked rows x cols x item against the byte range (no overflow).
        const std::int64_t rows = e.shape[0], cols = e.shape.size() == 2 ? e.shape[1] : 1;
        // [N, 0] with N > 0 holds nothing but would make loaders build N row names.
        if (cols == 0 && rows > 0)
            throw Error(file, "tensor '" + e.name + "' has " + std::to_string(rows) + " rows of zero width");
        core::Matrix m(rows, cols);
        const char* src = bytes.data() + header.dataStart + e.begin;
        if (e.dtype == "F32") {
            if (!m.data.empty())
                std::memcpy(m.data.data(), src, m.data.size() * sizeof(float));
        } else {
            for (std::size_t i = 0; i < m.data.size(); ++i) {
                double d;
                std::memcpy(&d, src + 8 * i, 8);
                m.data[i] = static_cast<float>(d);
            }
        }
        out.emplace(e.name, std::move(m));
    }
    return out;
}

} // namespace vitrine::core::io

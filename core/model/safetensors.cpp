#include "core/model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/error.h"
#include "core/io/atomic_file.h"

namespace vitrine::core::model {

namespace {

struct DtypeInfo {
    const char* name;
    at::ScalarType type;
    std::uint64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},  {"BF16", at::kBFloat16, 2}, {"F64", at::kDouble, 8},
    {"I64", at::kLong, 8},  {"I32", at::kInt, 4},   {"I16", at::kShort, 2},     {"I8", at::kChar, 1},
    {"U8", at::kByte, 1},   {"BOOL", at::kBool, 1},
};

const DtypeInfo* findDtype(const std::string& name) {
    for (const auto& d : kDtypes)
        if (name == d.name)
            return &d;
    return nullptr;
}

const DtypeInfo* findDtype(at::ScalarType t) {
    for (const auto& d : kDtypes)
        if (t == d.type)
            return &d;
    return nullptr;
}

SafetensorsHeader parseHeader(const std::filesystem::path& file, std::ifstream& in, std::uint64_t fileSize,
                              const SafetensorsReadOptions& options) {
    auto fail = [&](const std::string& problem) -> Error {
        return Error(file, "not a valid safetensors file: " + problem);
    };
    if (fileSize < 8)
        throw fail("shorter than the 8-byte header length (" + std::to_string(fileSize) + " bytes)");
    unsigned char lenBytes[8];
    in.read(reinterpret_cast<char*>(lenBytes), 8);
    if (!in)
        throw Error(file, "cannot read the header length");
    std::uint64_t headerLen = 0;
    for (int i = 7; i >= 0; --i)
        headerLen = (headerLen << 8) | lenBytes[i];
    if (headerLen > options.maxHeaderBytes)
        throw fail("header length " + std::to_string(headerLen) + " exceeds the limit of " +
                   std::to_string(options.maxHeaderBytes) + " bytes");
    if (headerLen > fileSize - 8)
        throw fail("header length " + std::to_string(headerLen) + " runs past the end of the file (" +
                   std::to_string(fileSize) + " bytes)");
    if (headerLen < 2)
        throw fail("header is empty");
    std::string text(static_cast<std::size_t>(headerLen), '\0');
    in.read(text.data(), static_cast<std::streamsize>(headerLen));
    if (!in)
        throw Error(file, "cannot read the header");

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
    h.dataStart = 8 + headerLen;
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
        auto bad = [&](const std::string& what) { return fail("tensor '" + name + "': " + what); };
        if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
            throw bad("needs 'dtype', 'shape' and 'data_offsets'");
        if (!v["dtype"].is_string())
            throw bad("dtype is not a string");
        SafetensorsEntry e;
        e.name = name;
        e.dtype = v["dtype"].get<std::string>();
        const auto* dt = findDtype(e.dtype);
        if (!dt)
            throw bad("unsupported dtype '" + e.dtype + "' (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
        if (!v["shape"].is_array() || v["shape"].size() > 16)
            throw bad("shape is not an array of at most 16 dimensions");
        std::uint64_t bytes = dt->size;
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

std::uint64_t fileSizeOf(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec))
        throw Error(file, "no such file");
    if (std::filesystem::is_directory(file, ec))
        throw Error(file, "is a folder, expected a .safetensors file");
    auto size = std::filesystem::file_size(file, ec);
    if (ec)
        throw Error(file, "cannot read: " + ec.message());
    return size;
}

} // namespace

SafetensorsHeader readSafetensorsHeader(const std::filesystem::path& file, const SafetensorsReadOptions& options) {
    const auto size = fileSizeOf(file);
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw Error(file, "cannot open for reading");
    return parseHeader(file, in, size, options);
}

SafetensorsFile readSafetensors(const std::filesystem::path& file, const SafetensorsReadOptions& options) {
    const auto size = fileSizeOf(file);
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw Error(file, "cannot open for reading");
    auto h = parseHeader(file, in, size, options);
    SafetensorsFile out;
    out.metadata = std::move(h.metadata);
    in.seekg(static_cast<std::streamoff>(h.dataStart));
    for (const auto& e : h.entries) {
        // Entries are contiguous and sorted, so one sequential read per tensor.
        auto t = torch::empty(e.shape, torch::TensorOptions().dtype(findDtype(e.dtype)->type));
        const auto n = static_cast<std::streamsize>(e.end - e.begin);
        if (n > 0) {
            in.read(static_cast<char*>(t.data_ptr()), n);
            if (!in)
                throw Error(file, "cannot read the data of tensor '" + e.name + "' (file changed while reading?)");
        }
        out.tensors.emplace(e.name, std::move(t));
    }
    return out;
}

void writeSafetensors(const std::filesystem::path& file, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    std::vector<std::pair<std::string, at::Tensor>> ordered;
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty()) {
        nlohmann::json m = nlohmann::json::object();
        for (const auto& [k, v] : metadata)
            m[k] = v;
        header["__metadata__"] = m;
    }
    std::uint64_t offset = 0;
    for (const auto& [name, tensor] : tensors) {
        if (name == "__metadata__")
            throw Error(file, "a tensor cannot be named __metadata__");
        TORCH_CHECK(tensor.defined(), "writeSafetensors: tensor '", name, "' is undefined");
        auto t = tensor.detach().to(torch::kCPU).contiguous();
        const auto* dt = findDtype(t.scalar_type());
        if (!dt)
            throw Error(file, "tensor '" + name + "' has a dtype safetensors cannot store here (" +
                                  std::string(c10::toString(t.scalar_type())) + ")");
        const auto bytes = static_cast<std::uint64_t>(t.numel()) * dt->size;
        header[name] = {{"dtype", dt->name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        ordered.emplace_back(name, std::move(t));
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    io::writeFileAtomically(file, [&](std::ostream& out) {
        unsigned char len[8];
        std::uint64_t n = text.size();
        for (int i = 0; i < 8; ++i)
            len[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
        out.write(reinterpret_cast<const char*>(len), 8);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        // Same order as the offsets: std::map iteration is sorted, and nlohmann sorts keys too.
        for (const auto& [name, t] : ordered)
            out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    });
}

} // namespace vitrine::core::model

#include "core/model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>

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
    std::string prefix(8, '\0');
    if (fileSize >= 8) {
        in.read(prefix.data(), 8);
        if (!in)
            throw Error(file, "cannot read the header length");
    }
    const auto prefixSize = safetensorsPrefixSize(prefix, fileSize, file, options);
    prefix.resize(static_cast<std::size_t>(prefixSize));
    in.read(prefix.data() + 8, static_cast<std::streamsize>(prefixSize - 8));
    if (!in)
        throw Error(file, "cannot read the header");
    return parseSafetensorsHeader(prefix, fileSize, file, options);
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

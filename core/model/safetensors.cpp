#include "core/model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/io/atomic_file.h"

namespace vitrine::core::model {

namespace {

struct DtypeInfo {
    const char* name;
    at::ScalarType type;
};

constexpr DtypeInfo kDtypes[] = {
    {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16}, {"F64", at::kDouble}, {"I64", at::kLong},
    {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},       {"U8", at::kByte},    {"BOOL", at::kBool},
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

io::SafetensorsHeader parseHeader(const std::filesystem::path& file, std::ifstream& in, std::uint64_t fileSize,
                                  const io::SafetensorsReadOptions& options) {
    std::string prefix(8, '\0');
    if (fileSize >= 8) {
        in.read(prefix.data(), 8);
        if (!in)
            throw Error(file, "cannot read the header length");
    }
    const auto prefixSize = io::safetensorsPrefixSize(prefix, fileSize, file, options);
    prefix.resize(static_cast<std::size_t>(prefixSize));
    in.read(prefix.data() + 8, static_cast<std::streamsize>(prefixSize - 8));
    if (!in)
        throw Error(file, "cannot read the header");
    return io::parseSafetensorsHeader(prefix, fileSize, file, options);
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

io::SafetensorsHeader readSafetensorsHeader(const std::filesystem::path& file,
                                            const io::SafetensorsReadOptions& options) {
    const auto size = fileSizeOf(file);
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw Error(file, "cannot open for reading");
    return parseHeader(file, in, size, options);
}

SafetensorsFile readSafetensors(const std::filesystem::path& file, const io::SafetensorsReadOptions& options) {
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
        const auto* dt = findDtype(e.dtype);
        if (!dt) // only where options.anyFormatDtype let the header through
            throw Error(file,
                        "tensor '" + e.name + "' has dtype " + e.dtype + ", which cannot be read as a tensor here");
        auto t = torch::empty(e.shape, torch::TensorOptions().dtype(dt->type));
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
    std::vector<io::SafetensorsEntry> entries;
    std::vector<at::Tensor> data;
    for (const auto& [name, tensor] : tensors) {
        if (name == "__metadata__")
            throw Error(file, "a tensor cannot be named __metadata__");
        TORCH_CHECK(tensor.defined(), "writeSafetensors: tensor '", name, "' is undefined");
        auto t = tensor.detach().to(torch::kCPU).contiguous();
        const auto* dt = findDtype(t.scalar_type());
        if (!dt)
            throw Error(file, "tensor '" + name + "' has a dtype safetensors cannot store here (" +
                                  std::string(c10::toString(t.scalar_type())) + ")");
        entries.push_back({name, dt->name, t.sizes().vec()});
        data.push_back(std::move(t));
    }
    const std::string prefix = io::formatSafetensorsPrefix(entries, metadata);
    io::writeFileAtomically(file, [&](std::ostream& out) {
        out.write(prefix.data(), static_cast<std::streamsize>(prefix.size()));
        // Same order as the offsets (std::map iteration is sorted).
        for (const auto& t : data)
            out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    });
}

} // namespace vitrine::core::model

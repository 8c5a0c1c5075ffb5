#include "core/common/files.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/common/error.h"

namespace vitrine::core {

namespace fs = std::filesystem;

std::string readFile(const fs::path& file, std::size_t maxBytes) {
    std::error_code ec;
    if (fs::is_directory(file, ec))
        throw Error(file, "is a folder, not a file");
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw Error(file, std::string("cannot open: ") + std::strerror(errno));
    in.seekg(0, std::ios::end);
    auto size = static_cast<std::streamoff>(in.tellg());
    if (size < 0)
        throw Error(file, "cannot read its size");
    if (static_cast<std::size_t>(size) > maxBytes)
        throw Error(file, "is too large (" + std::to_string(size) + " bytes)");
    in.seekg(0);
    std::string data(static_cast<std::size_t>(size), '\0');
    in.read(data.data(), size);
    if (in.gcount() != size)
        throw Error(file, "could not be read completely (was it changed or removed while reading?)");
    return data;
}

} // namespace vitrine::core

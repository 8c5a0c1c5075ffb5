#pragma once
// The tests' one temporary folder: unique per process and name, emptied on creation,
// removed with everything in it when the object goes away.

#include <filesystem>
#include <string>
#include <system_error>

#include <unistd.h>

namespace vitrine::testutil {

struct TempDir {
    std::filesystem::path path;
    /// A folder named after the test ("vitrine-test-<name>-<pid>"), or numbered when unnamed.
    TempDir() : TempDir("tmp" + std::to_string(next()++)) {}
    explicit TempDir(const std::string& name) {
        path = std::filesystem::temp_directory_path() / ("vitrine-test-" + name + "-" + std::to_string(::getpid()));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        // A test may have made it read-only (export failure tests): writable again first.
        std::filesystem::permissions(path, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::filesystem::path operator/(const std::string& child) const { return path / child; }

private:
    static int& next() {
        static int n = 0;
        return n;
    }
};

} // namespace vitrine::testutil

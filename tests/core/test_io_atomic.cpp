// core/io: the atomic writer never leaves a half-written file or a temporary behind.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/io/atomic_file.h"

namespace fs = std::filesystem;
using namespace vitrine::core::io;
using vitrine::core::readFile;

namespace {
fs::path freshDir(const std::string& name) {
    auto dir = fs::temp_directory_path() / ("vitrine-io-tests-" + std::to_string(::getpid())) / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}
int entries(const fs::path& dir) {
    return static_cast<int>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}
} // namespace

TEST_CASE("a write replaces the file completely", "[io]") {
    auto dir = freshDir("replace");
    writeFileAtomically(dir / "a.txt", "first");
    writeFileAtomically(dir / "a.txt", "second version");
    CHECK(readFile(dir / "a.txt") == "second version");
    CHECK(entries(dir) == 1);
}

TEST_CASE("a failing producer leaves the earlier file and no temporary", "[io]") {
    auto dir = freshDir("producer");
    writeFileAtomically(dir / "a.txt", "good");
    CHECK_THROWS_AS(writeFileAtomically(dir / "a.txt",
                                        [](std::ostream& out) {
                                            out << "partial";
                                            throw std::runtime_error("boom");
                                        }),
                    std::runtime_error);
    CHECK(readFile(dir / "a.txt") == "good");
    CHECK(entries(dir) == 1);
}

TEST_CASE("a directory target and a missing folder are clear errors", "[io]") {
    auto dir = freshDir("targets");
    fs::create_directories(dir / "sub");
    CHECK_THROWS_WITH(writeFileAtomically(dir / "sub", "x"), Catch::Contains("is a directory"));
    CHECK_THROWS_WITH(writeFileAtomically(dir / "nope" / "a.txt", "x"), Catch::Contains("does not exist"));
}

TEST_CASE("a read-only folder is a clear error", "[io]") {
    auto dir = freshDir("readonly");
    writeFileAtomically(dir / "a.txt", "earlier");
    fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    if (::geteuid() != 0) {
        CHECK_THROWS_WITH(writeFileAtomically(dir / "a.txt", "x"), Catch::Contains("permission denied"));
    } else {
        // Root ignores permission bits: try as "nobody" in a child, and, in this process,
        // the top of /sys, where the kernel refuses new files even to root.
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            if (::setgid(65534) != 0 || ::setuid(65534) != 0)
                ::_exit(4);
            try {
                writeFileAtomically(dir / "a.txt", "x");
            } catch (const vitrine::core::Error& e) {
                ::_exit(std::string(e.what()).find("permission denied") != std::string::npos ? 0 : 3);
            } catch (...) {
            }
            ::_exit(2);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
        if (fs::is_directory("/sys/kernel")) {
            CHECK_THROWS_WITH(writeFileAtomically("/sys/vitrine-readonly-test.txt", "x"),
                              Catch::Contains("permission denied"));
            CHECK_FALSE(fs::exists("/sys/vitrine-readonly-test.txt"));
        }
    }
    fs::permissions(dir, fs::perms::owner_all);
    CHECK(readFile(dir / "a.txt") == "earlier");
    CHECK(entries(dir) == 1);
}

TEST_CASE("a full disk mid-write keeps the earlier file and leaves no temporary", "[io]") {
    auto dir = freshDir("full");
    writeFileAtomically(dir / "a.bin", std::string(1000, 'a'));
    // Simulate the disk filling up with RLIMIT_FSIZE in a child process.
    pid_t pid = ::fork();
    if (pid == 0) {
        std::signal(SIGXFSZ, SIG_IGN);
        rlimit lim{4096, 4096};
        ::setrlimit(RLIMIT_FSIZE, &lim);
        try {
            writeFileAtomically(dir / "a.bin", std::string(1 << 20, 'b'));
        } catch (const vitrine::core::Error& e) {
            std::string msg = e.what();
            ::_exit(msg.find("a.bin") != std::string::npos ? 0 : 3);
        }
        ::_exit(2);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(readFile(dir / "a.bin") == std::string(1000, 'a'));
    CHECK(entries(dir) == 1);
}

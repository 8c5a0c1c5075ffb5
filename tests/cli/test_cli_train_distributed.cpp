#include <catch2/catch.hpp>

#include "cli_run.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "../train_test_util.h"
#include "core/common/files.h"
#include "core/model/checkpoint.h"
#include "core/train/distributed.h"
#include "tests/support/wait_until.h"

using namespace vitrine;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

/// Starts `vitrine-cli <args>` as rank `rank` of 2 (torchrun's variables), stdout and stderr
/// to "<dir>/rankR.out" / ".err". The shell exec()s the program, so the pid is the rank's.
pid_t startRank(int rank, int port, int timeoutSeconds, const std::string& args, const fs::path& dir) {
    const std::string cmd = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) +
                            " WORLD_SIZE=2 RANK=" + std::to_string(rank) +
                            " VITRINE_DIST_TIMEOUT=" + std::to_string(timeoutSeconds) + " exec " +
                            std::string(VITRINE_CLI_PATH) + " " + args + " >" +
                            testutil::q(dir / ("rank" + std::to_string(rank) + ".out")) + " 2>" +
                            testutil::q(dir / ("rank" + std::to_string(rank) + ".err"));
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    REQUIRE(pid > 0);
    return pid;
}

/// The exit status of `pid` once it ended, or nullopt after `timeoutMs`.
std::optional<int> waitExit(pid_t pid, int timeoutMs) {
    int status = 0;
    if (!testutil::waitUntil([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeoutMs, 10))
        return std::nullopt;
    return status;
}

std::string readOrEmpty(const fs::path& p) {
    std::error_code ec;
    return fs::exists(p, ec) ? core::readFile(p) : std::string();
}

/// A /proc file (their size reads as 0, so not core::readFile); empty when unreadable.
std::string readProc(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

/// The "done" event among JSON lines (each optionally prefixed, e.g. "[rank 1] ").
nlohmann::json doneEvent(const std::string& text, const std::string& prefix = "") {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(prefix, 0) != 0)
            continue;
        line.erase(0, prefix.size());
        if (line.rfind("{", 0) != 0)
            continue;
        auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (j.is_object() && j.value("event", "") == "done")
            return j;
    }
    FAIL("no done event" << (prefix.empty() ? "" : " after '" + prefix + "'") << " in:\n" << text);
    return {};
}

/// The child of `parent` whose environment holds RANK=`rank` (a worker of --nproc), or -1.
pid_t childWithRank(pid_t parent, int rank) {
    for (const auto& e : fs::directory_iterator("/proc")) {
        const auto name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        const std::string stat = readProc(e.path() / "stat");
        const auto close = stat.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream fields(stat.substr(close + 2));
        std::string state;
        long ppid = 0;
        fields >> state >> ppid;
        if (ppid != parent)
            continue;
        const std::string environ = readProc(e.path() / "environ");
        const std::string want = std::string("RANK=") + std::to_string(rank);
        if (environ.find(std::string(1, '\0') + want + std::string(1, '\0')) != std::string::npos ||
            environ.rfind(want + std::string(1, '\0'), 0) == 0)
            return pid_t(std::stol(name));
    }
    return -1;
}

struct TwoRanks {
    testutil::TempDir tmp;
    fs::path ckpt;
    std::string args;
    explicit TwoRanks(const std::string& name) : tmp(name) {
        testutil::linkFourBreeds(tmp.path / "data", 6);
        const auto model = testutil::writeTinyModel(tmp.path / "tiny.safetensors");
        ckpt = tmp.path / "out.safetensors";
        // Many short steps, so the run is still going when a rank is stopped.
        args = "train --data " + testutil::q(tmp.path / "data") + " --out " + testutil::q(ckpt) + " --model " +
               testutil::q(model) +
               " -P 2 -K 4 --label-level -1 --epochs 1 --steps-per-epoch 2000 --no-augment "
               "--precision fp32 --json --threads 1";
    }
};

} // namespace

TEST_CASE("a killed rank ends the other's run at once, with a message that names it", "[cli][train][distributed]") {
    TwoRanks run("dist-killed");
    const int port = core::train::freeLocalPort();
    const pid_t r0 = startRank(0, port, 20, run.args, run.tmp.path);
    const pid_t r1 = startRank(1, port, 20, run.args, run.tmp.path);
    const auto out0 = run.tmp.path / "rank0.out";
    REQUIRE(testutil::waitUntil([&] { return count(readOrEmpty(out0), "\"event\":\"step\"") >= 3; }, 60000, 20));

    ::kill(r1, SIGKILL);
    const auto killed = Clock::now();
    const auto status = waitExit(r0, 30000);
    const double seconds = std::chrono::duration<double>(Clock::now() - killed).count();
    waitExit(r1, 5000);
    REQUIRE(status.has_value());
    WARN("rank 0 ended " << seconds << " s after rank 1 was killed");
    const auto err = readOrEmpty(run.tmp.path / "rank0.err");
    INFO(err);
    CHECK(seconds < 10);
    REQUIRE(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 3);
    const auto done = doneEvent(readOrEmpty(out0));
    WARN(done["message"].get<std::string>());
    CHECK_THAT(done["message"].get<std::string>(), Catch::Contains("rank 1 stopped responding"));
    CHECK(done["rank_lost"] == true);
    CHECK(done["steps"].get<int>() >= 3);
    CHECK(done["steps"].get<int>() < 2000);
    // Rank 0 kept what all ranks had completed.
    REQUIRE(done["checkpoint"] == run.ckpt.string());
    CHECK(core::model::loadModel(run.ckpt.string()).metadata["training"]["step"] == done["steps"]);
}

TEST_CASE("a rank that stops answering ends the other's run after the timeout", "[cli][train][distributed]") {
    TwoRanks run("dist-stopped");
    const int port = core::train::freeLocalPort();
    constexpr int kTimeout = 3;
    const pid_t r0 = startRank(0, port, kTimeout, run.args, run.tmp.path);
    const pid_t r1 = startRank(1, port, kTimeout, run.args, run.tmp.path);
    const auto out0 = run.tmp.path / "rank0.out";
    REQUIRE(testutil::waitUntil([&] { return count(readOrEmpty(out0), "\"event\":\"step\"") >= 3; }, 60000, 20));

    ::kill(r1, SIGSTOP); // alive, sockets open, silent
    const auto stopped = Clock::now();
    const auto status = waitExit(r0, 30000);
    const double seconds = std::chrono::duration<double>(Clock::now() - stopped).count();
    ::kill(r1, SIGKILL);
    waitExit(r1, 5000);
    REQUIRE(status.has_value());
    WARN("rank 0 ended " << seconds << " s after rank 1 stopped (timeout " << kTimeout << " s)");
    const auto err = readOrEmpty(run.tmp.path / "rank0.err");
    INFO(err);
    CHECK(seconds < kTimeout + 7);
    REQUIRE(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 3);
    const auto done = doneEvent(readOrEmpty(out0));
    WARN(done["message"].get<std::string>());
    CHECK_THAT(done["message"].get<std::string>(), Catch::Contains("rank 1 stopped responding"));
}

TEST_CASE("cli train --nproc 2 trains on two local ranks and only rank 0 writes the checkpoint",
          "[cli][train][distributed]") {
    testutil::TempDir tmp("cli-nproc");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    const auto model = testutil::writeTinyModel(tmp.path / "tiny.safetensors");
    const auto ckpt = tmp.path / "out.safetensors";
    auto r = testutil::cli("train --data " + testutil::q(tmp.path / "data") + " --out " + testutil::q(ckpt) +
                               " --model " + testutil::q(model) +
                               " -P 2 -K 4 --label-level -1 --epochs 2 --seed 3 --json --nproc 2",
                           tmp.path);
    INFO(r.err);
    REQUIRE(r.code == 0);
    // Rank 0 keeps stdout (the JSON lines); rank 1 speaks on stderr, prefixed.
    const auto done0 = doneEvent(r.out);
    CHECK(done0["rank"] == 0);
    CHECK(done0["world_size"] == 2);
    CHECK(done0["steps"] == 4); // ceil(~19 training images / (2 ranks × 8)) = 2 per epoch
    CHECK(done0["checkpoint"] == ckpt.string());
    CHECK(r.out.find("\"event\":\"epoch\"") != std::string::npos);
    const auto done1 = doneEvent(r.err, "[rank 1] ");
    CHECK(done1["rank"] == 1);
    CHECK(done1["steps"] == 4);
    CHECK(done1["checkpoint"] == "");
    CHECK(r.err.find("\"event\":\"step\"") == std::string::npos); // progress from rank 0 only
    auto loaded = core::model::loadModel(ckpt.string());
    CHECK(loaded.metadata["training"]["step"] == 4);
    CHECK(loaded.metadata["training"]["world_size"] == 2);
}

TEST_CASE("cli train --nproc: a rank that dies is named, and the others stop", "[cli][train][distributed]") {
    TwoRanks run("nproc-killed");
    const auto out = run.tmp.path / "launcher.out", err = run.tmp.path / "launcher.err";
    const std::string cmd = "exec " + std::string(VITRINE_CLI_PATH) + " " + run.args + " --nproc 2 >" +
                            testutil::q(out) + " 2>" + testutil::q(err);
    const pid_t launcher = ::fork();
    if (launcher == 0) {
        ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    REQUIRE(launcher > 0);
    REQUIRE(testutil::waitUntil([&] { return count(readOrEmpty(out), "\"event\":\"step\"") >= 3; }, 60000, 20));
    const pid_t rank1 = childWithRank(launcher, 1);
    REQUIRE(rank1 > 0);

    ::kill(rank1, SIGKILL);
    const auto killed = Clock::now();
    const auto status = waitExit(launcher, 30000);
    const double seconds = std::chrono::duration<double>(Clock::now() - killed).count();
    REQUIRE(status.has_value());
    WARN("--nproc 2 ended " << seconds << " s after rank 1 was killed");
    const auto text = readOrEmpty(err);
    INFO(text);
    CHECK(seconds < 10);
    REQUIRE(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 128 + SIGKILL); // the failed rank's status
    CHECK_THAT(text, Catch::Contains("rank 1 was killed by signal 9 (SIGKILL); stopping the other ranks"));
    const auto done = doneEvent(readOrEmpty(out)); // rank 0's, on the launcher's stdout
    CHECK(done["rank_lost"] == true);
    REQUIRE(done["checkpoint"] == run.ckpt.string());
    CHECK(core::model::loadModel(run.ckpt.string()).metadata["training"]["step"] == done["steps"]);
}

// vitrine-cli under awkward input and failing disks (issue 8): file names that break naive
// CSV/TSV survive embed -> export -> re-import; broken, thin and vanished images are skipped
// with their names; a failed export leaves the earlier file and no temporary.
#include <sys/wait.h>

#include <csignal>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include "../test_png.h"
#include "../train_test_util.h"
#include "cli_run.h"
#include "core/common/files.h"
#include "core/io/atomic_file.h"
#include "core/io/embedding_set.h"
#include "core/io/npy.h"

using namespace vitrine;
using namespace vitrine::core;
namespace fs = std::filesystem;

namespace {

using testutil::cli;
using testutil::q;
using testutil::TempDir;

int temporaries(const fs::path& dir) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir))
        n += e.path().filename().string().find(".tmp-") != std::string::npos ? 1 : 0;
    return n;
}

// Names that break naive writers: separators, quotes, control characters, non-Latin text,
// leading/trailing spaces. Each is a real file on disk.
const std::vector<std::string> kAwkward = {
    "a,b.jpg",     "say \"hi\".jpg",  "tab\there.jpg",     "line\nbreak.jpg", "猫 ねこ é.jpg", " leading space.jpg",
    "quote's.jpg", "back\\slash.jpg", "semi;colon #1.jpg", "trailing .jpg"};

} // namespace

TEST_CASE("awkward file names survive embed, export to every format and re-import", "[cli][reliability]") {
    TempDir tmp("names");
    const fs::path demo = VITRINE_TEST_DATA;
    const fs::path data = tmp.path / "data";
    fs::create_directories(data / "chat, \"noir\"");
    fs::create_directories(data / "dog");
    std::set<std::string> expected;
    int i = 0;
    for (const auto& name : kAwkward) {
        const auto cls = i % 2 ? std::string("dog") : std::string("chat, \"noir\"");
        const auto src = demo / (i % 2 ? "dog/beagle" : "cat/Bengal");
        std::vector<fs::path> photos;
        for (const auto& e : fs::directory_iterator(src))
            photos.push_back(e.path());
        std::sort(photos.begin(), photos.end());
        fs::copy_file(photos.at(std::size_t(i / 2)), data / cls / name);
        expected.insert(cls + "/" + name);
        ++i;
    }

    auto r = cli("--threads 2 embed --model vit-micro --precision fp32 --batch 4 --data " + q(data) + " --out " +
                     q(tmp.path / "e.npy"),
                 tmp.path);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto original = io::loadEmbeddingSet(tmp.path / "e.npy");
    REQUIRE(original.embeddings.rows == std::int64_t(kAwkward.size()));

    auto checkRows = [&](const io::EmbeddingSet& set) {
        REQUIRE(set.embeddings.rows == original.embeddings.rows);
        CHECK(set.embeddings.data == original.embeddings.data);
        std::set<std::string> paths;
        for (std::int64_t row = 0; row < set.rows.size(); ++row) {
            const auto& p = set.rows.value(row, "path");
            paths.insert(p);
            CHECK(fs::exists(data / p)); // the path still names the file on disk
            CHECK(set.rows.value(row, "label") == p.substr(0, p.find('/')));
        }
        CHECK(paths == expected);
    };
    checkRows(original);
    for (const std::string fmt : {"npy", "csv", "safetensors"}) {
        INFO(fmt);
        const auto out = tmp.path / ("x." + fmt);
        auto e = cli("export --embeddings " + q(tmp.path / "e.npy") + " --format " + fmt + " --out " + q(out),
                     tmp.path);
        INFO(e.err);
        REQUIRE(e.code == 0);
        checkRows(io::loadEmbeddingSet(out));
        // ... and back out of that format again through the CLI.
        const auto again = tmp.path / ("again-" + fmt + ".npy");
        REQUIRE(cli("export --embeddings " + q(out) + " --format npy --out " + q(again), tmp.path).code == 0);
        checkRows(io::loadEmbeddingSet(again));
    }
    // The projector's metadata.tsv has no escaping: one line per row, tabs and newlines flattened.
    auto p = cli("export --embeddings " + q(tmp.path / "e.npy") + " --format projector --images-root " + q(data) +
                     " --out " + q(tmp.path / "bundle"),
                 tmp.path);
    REQUIRE(p.code == 0);
    CHECK(p.err.find("could not be read") == std::string::npos); // every awkward path found its image
    std::ifstream meta(tmp.path / "bundle" / "metadata.tsv");
    int lines = 0;
    for (std::string l; std::getline(meta, l); ++lines)
        CHECK(std::count(l.begin(), l.end(), '\t') == 1);
    CHECK(lines == int(kAwkward.size()) + 1);
}

TEST_CASE("embed skips broken, thin and vanished images by name and embeds the rest", "[cli][reliability]") {
    TempDir tmp("bad-images");
    const fs::path demo = VITRINE_TEST_DATA;
    const fs::path data = tmp.path / "data";
    fs::create_directories(data / "cat");
    fs::create_directories(data / "dog");
    fs::copy_file(demo / "cat/Abyssinian/Abyssinian_1.jpg", data / "cat/good.jpg");
    fs::copy_file(demo / "cat/Abyssinian/Abyssinian_2.jpg", data / "dog/good.jpg");
    std::ofstream(data / "cat/zero.jpg").close();
    std::ofstream(data / "cat/page.jpg") << "<!DOCTYPE html><html>404</html>";
    const std::string jpeg = readFile(demo / "cat/Abyssinian/Abyssinian_3.jpg");
    std::ofstream(data / "cat/half.jpg", std::ios::binary) << jpeg.substr(0, jpeg.size() / 2);
    testutil::writeGreyPng(data / "dog/strip.png", 2'000'000, 1);
    testutil::writeGreyPng(data / "dog/thin.png", 5000, 20);
    fs::create_directories(data / "dog/x.jpg");
    fs::create_directory_symlink(data, data / "dog/loop");
    auto r = cli("embed --model vit-micro --precision fp32 --data " + q(data) + " --out " + q(tmp.path / "e.npy") +
                     " --json",
                 tmp.path);
    INFO(r.err);
    CHECK(r.code == 0);
    for (const char* name : {"zero.jpg", "page.jpg", "half.jpg", "strip.png", "thin.png", "loop"})
        CHECK_THAT(r.err, Catch::Contains(name));
    CHECK_THAT(r.err, Catch::Contains("2000000x1") && Catch::Contains("too thin"));
    CHECK(io::readNpyMatrix(tmp.path / "e.npy").rows == 2);
}

TEST_CASE("a failed export keeps the earlier file byte for byte and leaves no temporary", "[cli][reliability]") {
    TempDir tmp("export-fail");
    Matrix m(400, 64);
    for (std::size_t k = 0; k < m.data.size(); ++k)
        m.data[k] = float(k % 97) / 7.0f - 3.0f;
    io::writeNpyMatrix(tmp.path / "e.npy", m);
    const fs::path out = tmp.path / "out";
    fs::create_directories(out);
    const std::string earlier = "an earlier export, not to be touched\n";
    io::writeFileAtomically(out / "prev.csv", earlier);

    SECTION("disk full mid-write (a 16 KiB file size limit in the shell)") {
        // SIGXFSZ ignored by the shell is ignored by vitrine-cli too, so write() fails with EFBIG.
        auto r = cli("export --embeddings " + q(tmp.path / "e.npy") + " --format csv --out " + q(out / "prev.csv"),
                     tmp.path, "trap '' XFSZ; ulimit -f 16; ");
        CHECK(r.code != 0);
        CHECK_THAT(r.err, Catch::Contains("prev.csv") && Catch::Contains("unchanged"));
    }
    SECTION("the target is a directory") {
        fs::create_directories(out / "adir.csv");
        auto r = cli("export --embeddings " + q(tmp.path / "e.npy") + " --format csv --out " + q(out / "adir.csv"),
                     tmp.path);
        CHECK(r.code != 0);
        CHECK_THAT(r.err, Catch::Contains("adir.csv") && Catch::Contains("directory"));
        CHECK(fs::is_directory(out / "adir.csv"));
        fs::remove(out / "adir.csv");
    }
    SECTION("a read-only folder") {
        // Root ignores permission bits, so as root the target is /sys's top folder, which the
        // kernel refuses to create files in for everyone; otherwise a folder chmod'ed 0555.
        const bool root = ::geteuid() == 0;
        const fs::path ro = root ? fs::path("/sys") : out;
        if (!root)
            fs::permissions(out, fs::perms::owner_read | fs::perms::owner_exec);
        auto r = cli("export --embeddings " + q(tmp.path / "e.npy") + " --format csv --out " +
                         q(ro / (root ? "vitrine-readonly-test.csv" : "prev.csv")),
                     tmp.path);
        fs::permissions(out, fs::perms::owner_all);
        CHECK(r.code != 0);
        CHECK_THAT(r.err, Catch::Contains("permission denied"));
        CHECK_FALSE(fs::exists("/sys/vitrine-readonly-test.csv"));
    }
    CHECK(readFile(out / "prev.csv") == earlier);
    CHECK(temporaries(out) == 0);
    CHECK(temporaries(tmp.path) == 0);
}

TEST_CASE("an embed that fills the disk stops there and keeps the earlier output", "[cli][reliability]") {
    TempDir tmp("embed-full");
    const fs::path data = VITRINE_TEST_DATA;
    // A good earlier run, then the same command with a 16 KiB file size limit. The CSV rows
    // (~1.4 KB each) reach the disk when the writer's 64 KiB buffer first fills, ~46 rows in;
    // small batches make the failed write land well inside the 296 photos, after some progress.
    auto first = cli("embed --model vit-micro --precision fp32 --data " + q(data / "cat/Abyssinian") + " --out " +
                         q(tmp.path / "e.csv"),
                     tmp.path);
    REQUIRE(first.code == 0);
    const auto earlier = readFile(tmp.path / "e.csv");
    const auto earlierRows = readFile(tmp.path / "e.csv.rows.tsv");

    auto r = cli("embed --model vit-micro --precision fp32 --batch 4 --json --data " + q(data) + " --out " +
                     q(tmp.path / "e.csv"),
                 tmp.path, "trap '' XFSZ; ulimit -f 16; ");
    INFO(r.err);
    CHECK(r.code != 0);
    CHECK_THAT(r.err, Catch::Contains("e.csv") && Catch::Contains("unchanged"));
    // It stopped at the failed write, not after embedding everything.
    long long lastDone = 0;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);)
        if (line.find("\"progress\"") != std::string::npos) {
            auto j = nlohmann::json::parse(line);
            lastDone = j["done"].get<long long>();
        }
    CHECK(lastDone > 0);
    CHECK(lastDone < 200);
    CHECK(readFile(tmp.path / "e.csv") == earlier);
    CHECK(readFile(tmp.path / "e.csv.rows.tsv") == earlierRows);
    CHECK(temporaries(tmp.path) == 0);
}

TEST_CASE("the launcher runs the program from libexec and says so when it is missing", "[cli][reliability]") {
    TempDir tmp("launcher");
    // Through the launcher, the program itself runs (and reports its version).
    auto ok = cli("--version", tmp.path);
    CHECK(ok.code == 0);
    CHECK_THAT(ok.out, Catch::Contains(VITRINE_VERSION));
    // A launcher copied away from its libexec/ folder cannot start anything: a clear error.
    fs::copy_file(VITRINE_CLI_PATH, tmp.path / "vitrine-cli");
    fs::permissions(tmp.path / "vitrine-cli", fs::perms::owner_all);
    const auto errFile = tmp.path / "launcher-err.txt";
    const int status = std::system(
        ((tmp.path / "vitrine-cli").string() + " --version 2>'" + errFile.string() + "'").c_str());
    CHECK(WEXITSTATUS(status) == 127);
    CHECK_THAT(readFile(errFile), Catch::Contains("the program itself is missing") && Catch::Contains("libexec"));
}

TEST_CASE("Ctrl-C during an embed keeps the earlier output and leaves no temporary", "[cli][reliability]") {
    TempDir tmp("embed-interrupt");
    const std::string earlier = "an earlier embedding, not to be touched\n";
    io::writeFileAtomically(tmp.path / "e.npy", earlier);
    io::writeFileAtomically(tmp.path / "e.npy.rows.tsv", earlier);
    // Started directly (no shell), its JSON progress read from a pipe; SIGINT after the first
    // batch, as a terminal's Ctrl-C would send.
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const std::string data = VITRINE_TEST_DATA, out = (tmp.path / "e.npy").string();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(fds[1], STDOUT_FILENO);
        ::close(fds[0]);
        ::close(fds[1]);
        const std::string err = (tmp.path / "stderr.txt").string();
        std::freopen(err.c_str(), "w", stderr);
        ::execl(VITRINE_CLI_PATH, "vitrine-cli", "embed", "--model", "vit-micro", "--precision", "fp32", "--batch", "2",
                "--json", "--data", data.c_str(), "--out", out.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(fds[1]);
    FILE* progress = ::fdopen(fds[0], "r");
    std::string all;
    bool interrupted = false;
    char line[4096];
    while (std::fgets(line, sizeof line, progress)) {
        all += line;
        if (!interrupted && std::string(line).find("\"done\":2,") != std::string::npos) {
            ::kill(pid, SIGINT);
            interrupted = true;
        }
    }
    std::fclose(progress);
    int status = 0;
    ::waitpid(pid, &status, 0);
    INFO(all << readFile(tmp.path / "stderr.txt"));
    REQUIRE(interrupted);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 130);
    CHECK_THAT(all, Catch::Contains("\"event\":\"cancelled\""));
    CHECK_THAT(readFile(tmp.path / "stderr.txt"), Catch::Contains("nothing written"));
    CHECK(readFile(tmp.path / "e.npy") == earlier);
    CHECK(readFile(tmp.path / "e.npy.rows.tsv") == earlier);
    CHECK(temporaries(tmp.path) == 0);
}

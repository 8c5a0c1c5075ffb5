#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>

#include <catch2/catch.hpp>

#include "core/common/files.h"
#include "tests/support/temp_dir.h"
#include <opencv2/imgcodecs.hpp>

#include "core/common/error.h"
#include "core/io/atomic_file.h"
#include "core/io/embedding_export.h"
#include "core/io/npy.h"

using namespace vitrine::core;
using namespace vitrine::core::io;
namespace fs = std::filesystem;

namespace {

using vitrine::testutil::TempDir; // tests/support/temp_dir.h

// Paths chosen to break naive CSV/TSV writers.
EmbeddingSet awkwardSet(std::int64_t n = 6, std::int64_t e = 5) {
    EmbeddingSet s;
    s.embeddings = Matrix(n, e);
    for (std::int64_t i = 0; i < n * e; ++i)
        s.embeddings.data[static_cast<std::size_t>(i)] = 0.1f * static_cast<float>(i) - 1.0f / 3.0f;
    s.rows.columns = {"path", "label", "species", "split"};
    const std::vector<std::string> paths = {"cat/a,b.jpg",         "dog/say \"woof\".jpg", "cat/tab\there.jpg",
                                            "dog/line\nbreak.jpg", "猫/ねこ é.jpg",        " leading space.jpg"};
    for (std::int64_t i = 0; i < n; ++i)
        s.rows.rows.push_back({paths[static_cast<std::size_t>(i) % paths.size()], i % 2 ? "Beagle" : "Bengal",
                               i % 2 ? "dog" : "cat", i % 3 ? "train" : "val"});
    s.coords = Matrix(n, 2);
    for (std::int64_t i = 0; i < n; ++i) {
        s.coords(i, 0) = static_cast<float>(i);
        s.coords(i, 1) = -0.5f * static_cast<float>(i);
    }
    return s;
}

std::vector<std::string> lines(const fs::path& file) {
    std::ifstream in(file);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

} // namespace

TEST_CASE("npy round-trips and rejects malformed files", "[io][export]") {
    TempDir dir;
    Matrix m(3, 4);
    for (std::size_t i = 0; i < m.data.size(); ++i)
        m.data[i] = static_cast<float>(i) * 0.25f - 1.0f;
    writeNpyMatrix(dir.path / "m.npy", m);
    const std::string bytes = readFile(dir.path / "m.npy");
    REQUIRE((bytes.size() - m.data.size() * 4) % 64 == 0);
    auto back = readNpyMatrix(dir.path / "m.npy");
    REQUIRE(back.rows == 3);
    REQUIRE(back.cols == 4);
    REQUIRE(back.data == m.data);

    REQUIRE_THROWS_WITH(parseNpy("PK\x03\x04 not numpy at all", "x.npy"), Catch::Contains("bad magic"));
    std::string wrongType = bytes;
    wrongType.replace(wrongType.find("<f4"), 3, "<i8");
    REQUIRE_THROWS_WITH(parseNpy(wrongType, "x.npy"), Catch::Contains("dtype"));
    REQUIRE_THROWS_WITH(parseNpy(bytes.substr(0, bytes.size() - 4), "x.npy"), Catch::Contains("does not match"));
    REQUIRE_THROWS_AS(parseNpy(bytes.substr(0, 20), "x.npy"), Error);
    std::string badShape = bytes;
    badShape.replace(badShape.find("(3, 4)"), 6, "(3,,4)");
    REQUIRE_THROWS_AS(parseNpy(badShape, "x.npy"), Error);
}

TEST_CASE("rows sidecar escaping round-trips awkward paths", "[io][export]") {
    auto s = awkwardSet();
    REQUIRE(parseRowTable(formatRowTable(s.rows), "rows.tsv").rows == s.rows.rows);
    REQUIRE(unescapeTsvField(escapeTsvField("a\\b\tc\nd\re")) == "a\\b\tc\nd\re");
    REQUIRE_THROWS_WITH(parseRowTable("label\nx\n", "r.tsv"), Catch::Contains("'path'"));
    REQUIRE_THROWS_WITH(parseRowTable("path\tlabel\nonly-one-field\n", "r.tsv"), Catch::Contains("line 2"));
}

TEST_CASE("npy, csv and safetensors exports load back identically", "[io][export]") {
    TempDir dir;
    const auto s = awkwardSet();
    for (auto [format, name] : {std::pair{ExportFormat::Npy, "e.npy"}, std::pair{ExportFormat::Csv, "e.csv"},
                                std::pair{ExportFormat::Safetensors, "e.safetensors"}}) {
        INFO(name);
        ExportOptions o;
        o.format = format;
        auto result = exportEmbeddings(s, dir.path / name, o);
        REQUIRE(!result.files.empty());
        auto back = loadEmbeddingSet(dir.path / name);
        REQUIRE(back.embeddings.rows == s.embeddings.rows);
        REQUIRE(back.embeddings.data == s.embeddings.data); // shortest round-trip text is exact
        REQUIRE(back.rows.columns == s.rows.columns);
        REQUIRE(back.rows.rows == s.rows.rows);
        if (format == ExportFormat::Npy)
            REQUIRE(readNpyMatrix(dir.path / "e.coords.npy").data == s.coords.data);
        else
            REQUIRE(back.coords.data == s.coords.data);
    }
    // The CSV quotes exactly the fields that need it.
    const std::string csv = readFile(dir.path / "e.csv");
    REQUIRE(csv.find("\"cat/a,b.jpg\"") != std::string::npos);
    REQUIRE(csv.find("\"dog/say \"\"woof\"\".jpg\"") != std::string::npos);
    REQUIRE(csv.find("\"dog/line\nbreak.jpg\"") != std::string::npos);
    REQUIRE(csv.find(",猫/ねこ é.jpg,") == std::string::npos); // first column: no leading comma
    REQUIRE(csv.find("猫/ねこ é.jpg,Bengal") != std::string::npos);
}

TEST_CASE("exporting a memory-mapped .npy streams it and writes the same bytes as from memory", "[io][export][mmap]") {
    TempDir dir;
    // 20,000 x 96 (7.7 MB): several write blocks and pages to release.
    EmbeddingSet s;
    s.embeddings = Matrix(20'000, 96);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    for (float& v : s.embeddings.data)
        v = normal(rng);
    for (std::int64_t i = 0; i < s.embeddings.rows; ++i)
        s.rows.rows.push_back({"img/" + std::to_string(i) + ".jpg", i % 2 ? "dog" : "cat"});
    s.rows.columns = {"path", "label"};
    exportEmbeddings(s, dir.path / "in.npy", {});
    const auto mapped = openEmbeddingSet(dir.path / "in.npy");
    REQUIRE(mapped.embeddings.fileBacked);
    Matrix coords(s.embeddings.rows, 2);
    for (std::int64_t i = 0; i < coords.rows; ++i)
        coords(i, 0) = static_cast<float>(i), coords(i, 1) = 0.25f * static_cast<float>(i);
    s.coords = coords;
    for (auto format : {ExportFormat::Npy, ExportFormat::Csv, ExportFormat::Safetensors}) {
        ExportOptions o;
        o.format = format;
        const std::string ext = format == ExportFormat::Npy   ? ".npy"
                                : format == ExportFormat::Csv ? ".csv"
                                                              : ".safetensors";
        exportEmbeddings(s, dir.path / ("memory" + ext), o);
        exportEmbeddings(ExportSource{mapped.embeddings, mapped.rows, coords}, dir.path / ("mapped" + ext), o);
        INFO(ext);
        CHECK(readFile(dir.path / ("mapped" + ext)) == readFile(dir.path / ("memory" + ext)));
        const auto back = loadEmbeddingSet(dir.path / ("mapped" + ext));
        CHECK(back.embeddings.data == s.embeddings.data);
        CHECK(back.rows.rows == s.rows.rows);
    }
}

TEST_CASE("headerless numeric CSV (as embed writes) takes its rows from the sidecar", "[io][export]") {
    TempDir dir;
    writeFileAtomically(dir.path / "e.csv", std::string("0.5,1,-2\n3,4e-3,5\n"));
    writeFileAtomically(dir.path / "e.csv.rows.tsv", std::string("path\tlabel\na\\tb.jpg\tcat\nc.jpg\tdog\n"));
    auto set = loadEmbeddingSet(dir.path / "e.csv");
    REQUIRE(set.embeddings.rows == 2);
    REQUIRE(set.embeddings.cols == 3);
    REQUIRE(set.embeddings(1, 1) == 4e-3f);
    REQUIRE(set.rows.value(0, "path") == "a\tb.jpg");
    REQUIRE(set.rows.value(1, "label") == "dog");
    writeFileAtomically(dir.path / "e.csv.rows.tsv", std::string("path\tlabel\na.jpg\tcat\n"));
    REQUIRE_THROWS_WITH(loadEmbeddingSet(dir.path / "e.csv"), Catch::Contains("lists 1 rows"));
}

TEST_CASE("projector bundle has matching tensors, metadata, sprite and config", "[io][export]") {
    TempDir dir;
    const fs::path demo = VITRINE_TEST_DATA;
    EmbeddingSet s = awkwardSet(10, 7);
    const std::vector<std::string> images = {"cat/Abyssinian/Abyssinian_1.jpg", "cat/Abyssinian/Abyssinian_2.jpg",
                                             "cat/Abyssinian/Abyssinian_3.jpg"};
    for (std::size_t i = 0; i < images.size(); ++i)
        s.rows.rows[i][0] = images[i];
    ExportOptions o;
    o.format = ExportFormat::Projector;
    o.imagesRoot = demo;
    o.maxThumbnail = 32;
    auto result = exportEmbeddings(s, dir.path / "bundle", o);
    REQUIRE(result.files.size() == 4);
    REQUIRE(result.missingImages == 7);
    REQUIRE(result.thumbnailSide == 32);
    auto tensors = lines(dir.path / "bundle" / "tensors.tsv");
    REQUIRE(tensors.size() == 10);
    REQUIRE(std::count(tensors[0].begin(), tensors[0].end(), '\t') == 6);
    auto meta = lines(dir.path / "bundle" / "metadata.tsv");
    REQUIRE(meta.size() == 11); // header + one line per row, embedded tabs/newlines flattened
    REQUIRE(meta[0] == "path\tlabel\tspecies\tsplit");
    for (const auto& l : meta)
        REQUIRE(std::count(l.begin(), l.end(), '\t') == 3);
    cv::Mat sprite = cv::imread((dir.path / "bundle" / "sprite.png").string(), cv::IMREAD_COLOR);
    REQUIRE(sprite.cols == 4 * 32);
    REQUIRE(sprite.rows == 4 * 32);
    // A real thumbnail is not the grey "missing" tile.
    const cv::Scalar first = cv::mean(sprite(cv::Rect(0, 0, 32, 32)));
    const cv::Scalar grey = cv::mean(sprite(cv::Rect(3 * 32, 0, 32, 32)));
    REQUIRE(grey[0] == Approx(128));
    REQUIRE(first[0] != Approx(128).margin(1));
    const std::string config = readFile(dir.path / "bundle" / "projector_config.pbtxt");
    REQUIRE(config.find("tensor_path: \"tensors.tsv\"") != std::string::npos);
    REQUIRE(config.find("metadata_path: \"metadata.tsv\"") != std::string::npos);
    REQUIRE(config.find("single_image_dim: 32") != std::string::npos);

    REQUIRE(spriteThumbnailSide(100000) == 25); // 317 x 25 = 7925 <= 8192
    REQUIRE(spriteThumbnailSide(10) == 64);
}

TEST_CASE("a failed export leaves the earlier file untouched and says why", "[io][export]") {
    TempDir dir;
    auto s = awkwardSet();
    ExportOptions o;
    o.format = ExportFormat::Csv;
    const fs::path target = dir.path / "e.csv";
    exportEmbeddings(s, target, o);
    const std::string before = readFile(target);

    SECTION("target is a directory") {
        fs::create_directories(dir.path / "adir");
        REQUIRE_THROWS_WITH(exportEmbeddings(s, dir.path / "adir", o), Catch::Contains("adir"));
        REQUIRE(fs::is_directory(dir.path / "adir"));
        ExportOptions p;
        p.format = ExportFormat::Projector;
        REQUIRE_THROWS_WITH(exportEmbeddings(s, target, p), Catch::Contains("is a file"));
        REQUIRE(readFile(target) == before);
    }
    SECTION("read-only folder") {
        fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                      fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
        // Root ignores permission bits, so the attempt runs in a child that drops to "nobody".
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0))
                ::_exit(4);
            int code = 3;
            try {
                exportEmbeddings(s, target, o);
                code = 1;
            } catch (const Error& e) {
                code = std::string(e.what()).find("permission") != std::string::npos ? 0 : 2;
            } catch (...) {
            }
            ::_exit(code);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        fs::permissions(dir.path, fs::perms::owner_all);
        REQUIRE(WIFEXITED(status));
        REQUIRE(WEXITSTATUS(status) == 0);
        REQUIRE(readFile(target) == before);
    }
    SECTION("disk full (file size limit)") {
        auto big = awkwardSet(2000, 64);
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            std::signal(SIGXFSZ, SIG_IGN);
            rlimit lim{4096, 4096};
            ::setrlimit(RLIMIT_FSIZE, &lim);
            int code = 3;
            try {
                exportEmbeddings(big, target, o);
                code = 1;
            } catch (const Error& e) {
                code = std::string(e.what()).find("e.csv") != std::string::npos ? 0 : 2;
            } catch (...) {
            }
            ::_exit(code);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        REQUIRE(WIFEXITED(status));
        REQUIRE(WEXITSTATUS(status) == 0);
        REQUIRE(readFile(target) == before);
        // No temporary file left behind.
        int entries = 0;
        for ([[maybe_unused]] auto& e : fs::directory_iterator(dir.path))
            ++entries;
        REQUIRE(entries == 1);
    }
}

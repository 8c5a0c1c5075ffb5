#include <catch2/catch.hpp>

#include "cli_run.h"

#include <filesystem>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../support/temp_dir.h"
#include "core/common/files.h"

using vitrine::testutil::cli;
using vitrine::testutil::q;
using vitrine::testutil::TempDir;
namespace fs = std::filesystem;

TEST_CASE("files move, trash, history and undo on the command line, byte for byte", "[cli][files]") {
    TempDir tmp("cli-files");
    const fs::path demo(VITRINE_TEST_DATA);
    const auto root = tmp / "set";
    fs::create_directories(root / "cat");
    fs::copy_file(demo / "cat/Abyssinian/Abyssinian_1.jpg", root / "cat/a.jpg");
    fs::copy_file(demo / "cat/Abyssinian/Abyssinian_2.jpg", root / "cat/b.jpg");
    const auto a = vitrine::core::readFile(root / "cat/a.jpg");
    const auto b = vitrine::core::readFile(root / "cat/b.jpg");
    const std::string env = "XDG_DATA_HOME=" + q(tmp / "xdg") + " ";

    auto r = cli("files --data " + q(root) + " move --to dog cat/a.jpg --json", tmp.path, env);
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j.at("state") == "done");
    CHECK(j.at("files")[0].at("to") == "dog/a.jpg");
    CHECK(vitrine::core::readFile(root / "dog/a.jpg") == a);

    r = cli("files --data " + q(root) + " trash cat/b.jpg --json", tmp.path, env);
    REQUIRE(r.code == 0);
    CHECK(vitrine::core::readFile(tmp / "xdg/Trash/files/b.jpg") == b);
    CHECK(fs::exists(tmp / "xdg/Trash/info/b.jpg.trashinfo"));

    r = cli("files --data " + q(root) + " history --json", tmp.path, env);
    REQUIRE(r.code == 0);
    std::istringstream lines(r.out);
    int n = 0;
    for (std::string line; std::getline(lines, line); ++n)
        CHECK(nlohmann::json::parse(line).at("state") == "done");
    CHECK(n == 2);

    // Undo without a number: the last action done, then the one before.
    REQUIRE(cli("files --data " + q(root) + " undo", tmp.path, env).code == 0);
    CHECK(vitrine::core::readFile(root / "cat/b.jpg") == b);
    CHECK_FALSE(fs::exists(tmp / "xdg/Trash/info/b.jpg.trashinfo"));
    REQUIRE(cli("files --data " + q(root) + " undo", tmp.path, env).code == 0);
    CHECK(vitrine::core::readFile(root / "cat/a.jpg") == a);
    CHECK_FALSE(fs::exists(root / "dog/a.jpg"));
    r = cli("files --data " + q(root) + " undo", tmp.path, env);
    CHECK(r.code == 1);
    CHECK(r.err.find("nothing to undo") != std::string::npos);

    r = cli("files --data " + q(root) + " move --to dog ../outside.jpg", tmp.path, env);
    CHECK(r.code == 1);
    CHECK(r.err.find("outside the data set") != std::string::npos);
}

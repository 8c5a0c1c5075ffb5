// Global options work on either side of the subcommand; the compute choices and a model's
// preprocessing are visible from `vitrine-cli info` and `--version`.
#include <catch2/catch.hpp>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "../train_test_util.h"
#include "cli_run.h"

using namespace vitrine;
namespace fs = std::filesystem;
using testutil::cli;
using testutil::q;

TEST_CASE("global options such as the thread count are accepted after the subcommand as well as before it",
          "[cli][options]") {
    testutil::TempDir dir("cli-options");
    const fs::path data = fs::path(VITRINE_TEST_DATA) / "cat" / "Abyssinian";
    const auto after = cli("embed --model vit-micro --data " + q(data) + " --out " + q(dir.path / "a.npy") +
                               " --precision fp32 --threads 1",
                           dir.path);
    INFO(after.err);
    CHECK(after.code == 0);
    CHECK(fs::exists(dir.path / "a.npy"));
    const auto before = cli("--threads 1 embed --model vit-micro --data " + q(data) + " --out " +
                                q(dir.path / "b.npy") + " --precision fp32",
                            dir.path);
    CHECK(before.code == 0);
    // The thread count reaches the engine from either position.
    const auto info = cli("info --json --threads 1", dir.path);
    REQUIRE(info.code == 0);
    const auto j = nlohmann::json::parse(info.out);
    CHECK(j["threads"] == 1);
}

TEST_CASE("info reports the CPU, the automatic precision and the kernels", "[cli][options]") {
    testutil::TempDir dir("cli-info");
    const auto r = cli("info --json", dir.path);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(!j["cpu"].get<std::string>().empty());
    const auto p = j["precision_auto"].get<std::string>();
    CHECK((p == "fp32" || p == "bf16"));
    // Without native bf16 the automatic choice is float32, always.
    if (!j["native_bf16"].get<bool>())
        CHECK(p == "fp32");
    CHECK(j["kernels"].get<std::string>().find("OpenBLAS") != std::string::npos);
    const auto v = cli("--version", dir.path);
    CHECK(v.code == 0);
    CHECK(v.out.find(j["cpu"].get<std::string>()) != std::string::npos);
}

TEST_CASE("info --model shows the preprocessing, and refuses impossible overrides", "[cli][options]") {
    testutil::TempDir dir("cli-info-model");
    const auto r = cli("info --model vit-micro --crop-pct 0.875 --interpolation bicubic --mean 0.5 --std 0.5 --json",
                       dir.path);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    const auto pre = j["model"]["config"]["preprocess"];
    CHECK(pre["crop_pct"].get<double>() == Approx(0.875));
    CHECK(pre["interpolation"] == "bicubic");
    CHECK(pre["mean"][1].get<double>() == Approx(0.5));
    CHECK(j["model"]["preprocess"].get<std::string>().find("resize 109 bicubic") != std::string::npos);

    const auto bad = cli("info --model vit-micro --std 0", dir.path);
    CHECK(bad.code != 0);
    CHECK(bad.err.find("std must be positive") != std::string::npos);
    const auto crop = cli("info --model vit-micro --crop-pct 1.5", dir.path);
    CHECK(crop.code != 0);
    CHECK(crop.err.find("outside (0, 1]") != std::string::npos);
}

TEST_CASE("the precision probe is measured once per machine and then read from the cache", "[cli][options]") {
    testutil::TempDir dir("cli-probe-cache");
    const std::string env = "XDG_CACHE_HOME=" + q(dir.path / "cache") + " ";
    const auto cacheFile = dir.path / "cache" / "vitrine" / "precision-probe.json";
    const auto first = cli("info --json", dir.path, env);
    REQUIRE(first.code == 0);
    const auto a = nlohmann::json::parse(first.out);
    if (!a["native_bf16"].get<bool>())
        CHECK(a["bf16_probe_speedup"].is_null()); // bf16 is not timed where it is emulated
    if (!a["native_bf16"].get<bool>() && !a["int8_available"].get<bool>()) {
        // Nothing but float32 to choose from: no probe runs at all, so there is nothing to cache.
        CHECK(a["int8_probe_speedup"].is_null());
        CHECK_FALSE(fs::exists(cacheFile));
        return;
    }
    CHECK_FALSE(a["bf16_probe_cached"].get<bool>());
    REQUIRE(fs::exists(cacheFile));
    const auto second = cli("info --json", dir.path, env);
    REQUIRE(second.code == 0);
    const auto b = nlohmann::json::parse(second.out);
    CHECK(b["bf16_probe_cached"].get<bool>());
    CHECK(b["bf16_probe_speedup"] == a["bf16_probe_speedup"]);
    CHECK(b["int8_probe_speedup"] == a["int8_probe_speedup"]);
    CHECK(b["precision_auto"] == a["precision_auto"]);
    CHECK(b["precision_auto_inference"] == a["precision_auto_inference"]);
    // Another thread count is another key: measured again.
    const auto other = cli("info --json --threads 1", dir.path, env);
    CHECK_FALSE(nlohmann::json::parse(other.out)["bf16_probe_cached"].get<bool>());
}

TEST_CASE("embed and info read a PyTorch .pth state dict, and refuse one that would run code",
          "[cli][torch-checkpoint]") {
    testutil::TempDir dir("cli-pth");
    const fs::path fixtures = fs::path(VITRINE_FIXTURES) / "torch";
    const fs::path data = fs::path(VITRINE_TEST_DATA) / "cat" / "Abyssinian";
    const auto ok = cli("embed --model " + q(fixtures / "vit-tiny-dino-teacher.pth") + " --heads 2 --data " + q(data) +
                            " --out " + q(dir.path / "e.npy") + " --precision fp32",
                        dir.path);
    INFO(ok.err);
    CHECK(ok.code == 0);
    CHECK(fs::exists(dir.path / "e.npy"));
    const auto bad = cli("embed --model " + q(fixtures / "evil-os-system.pth") + " --data " + q(data) + " --out " +
                             q(dir.path / "f.npy"),
                         dir.path);
    CHECK(bad.code != 0);
    CHECK(bad.err.find("'posix.system'") != std::string::npos);
    CHECK_FALSE(fs::exists(dir.path / "f.npy"));
}

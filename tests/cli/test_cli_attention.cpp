// vitrine-cli attention / patches on a demo photo with a preset model: valid PNGs of the
// documented size, and clear errors for bad input.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <sys/wait.h>

#include "cli_run.h"
#include "core/image/decode.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;

namespace {

struct RunResult {
    int exitCode = -1;
    std::string output; // stdout and stderr together
};

RunResult runCli(const std::string& args) {
    static const vitrine::testutil::TempDir scratch("cli-attention-run");
    const auto r = vitrine::testutil::cli(args, scratch.path);
    return {r.code, r.out + r.err};
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

using vitrine::testutil::TempDir;

const fs::path kPhoto = fs::path(VITRINE_TEST_DATA) / "cat" / "Abyssinian" / "Abyssinian_1.jpg";

} // namespace

TEST_CASE("vitrine-cli attention writes PNGs of the photo's size", "[attention][cli]") {
    TempDir dir("vitrine_cli_attention");
    const cv::Mat photo = vitrine::core::image::decodeRgb(kPhoto);
    const std::string base = "attention --model vit-micro --image " + quoted(kPhoto);

    auto r = runCli(base + " --out " + quoted(dir.path / "mean.png"));
    INFO(r.output);
    REQUIRE(r.exitCode == 0);
    REQUIRE(r.output.find("layer 5, mean") != std::string::npos);
    REQUIRE(vitrine::core::image::decodeRgb(dir.path / "mean.png").size() == photo.size());

    r = runCli(base +
               " --rollout --discard-ratio 0.9 --mask 0.6 --colormap inferno --overlay-opacity 0.8 "
               "--draw-grid --out " +
               quoted(dir.path / "rollout.png"));
    INFO(r.output);
    REQUIRE(r.exitCode == 0);
    REQUIRE(vitrine::core::image::decodeRgb(dir.path / "rollout.png").size() == photo.size());

    r = runCli(base + " --layer 2 --head 1 --patch 40 --view model --out " + quoted(dir.path / "model.png"));
    INFO(r.output);
    REQUIRE(r.exitCode == 0);
    REQUIRE(vitrine::core::image::decodeRgb(dir.path / "model.png").size() == cv::Size(96, 96));

    r = runCli(base + " --grid --layer 0 --out " + quoted(dir.path / "grid.png"));
    INFO(r.output);
    REQUIRE(r.exitCode == 0);
    const cv::Mat sheet = vitrine::core::image::decodeRgb(dir.path / "grid.png");
    REQUIRE(sheet.cols > 320); // 3 heads + mean, two per row at least
}

TEST_CASE("vitrine-cli patches writes PCA and norm views", "[attention][cli]") {
    TempDir dir("vitrine_cli_patches");
    const cv::Mat photo = vitrine::core::image::decodeRgb(kPhoto);
    const std::string base = "patches --model vit-micro --image " + quoted(kPhoto);
    for (const std::string mode : {"--pca", "--pca --remove-background", "--norms"}) {
        const auto out = dir.path / "patches.png";
        const auto r = runCli(base + " " + mode + " --out " + quoted(out));
        INFO(mode << ": " << r.output);
        REQUIRE(r.exitCode == 0);
        REQUIRE(vitrine::core::image::decodeRgb(out).size() == photo.size());
        fs::remove(out);
    }
}

TEST_CASE("vitrine-cli patches --compare draws two model views side by side", "[attention][cli]") {
    TempDir dir("vitrine_cli_compare");
    const auto other = fs::path(VITRINE_TEST_DATA) / "cat" / "Abyssinian" / "Abyssinian_2.jpg";
    const std::string base = "patches --model vit-micro --image " + quoted(kPhoto) + " --compare " + quoted(other);
    auto r = runCli(base + " --patch 30 --out " + quoted(dir.path / "one.png"));
    INFO(r.output);
    REQUIRE(r.exitCode == 0);
    REQUIRE(vitrine::core::image::decodeRgb(dir.path / "one.png").size() == cv::Size(192, 96));
    r = runCli(base + " --matches 10 --out " + quoted(dir.path / "pairs.png"));
    INFO(r.output);
    REQUIRE(r.exitCode == 0);
    REQUIRE(r.output.find("mutual best patch matches") != std::string::npos);
    REQUIRE(vitrine::core::image::decodeRgb(dir.path / "pairs.png").size() == cv::Size(192, 96));
}

TEST_CASE("vitrine-cli attention reports bad input clearly", "[attention][cli]") {
    TempDir dir("vitrine_cli_attention_bad");
    const auto fake = dir.path / "not-an-image.jpg";
    std::ofstream(fake) << "<html>this is a web page</html>";
    const auto out = dir.path / "out.png";

    auto r = runCli("attention --model vit-micro --image " + quoted(fake) + " --out " + quoted(out));
    INFO(r.output);
    REQUIRE(r.exitCode != 0);
    REQUIRE(r.output.find("not-an-image.jpg") != std::string::npos);
    REQUIRE_FALSE(fs::exists(out));

    r = runCli("attention --model vit-micro --image " + quoted(dir.path / "missing.jpg") + " --out " + quoted(out));
    REQUIRE(r.exitCode != 0);
    REQUIRE(r.output.find("missing.jpg") != std::string::npos);

    r = runCli("attention --model vit-micro --image " + quoted(kPhoto) + " --layer 99 --out " + quoted(out));
    INFO(r.output);
    REQUIRE(r.exitCode != 0);
    REQUIRE(r.output.find("--layer 99") != std::string::npos);

    r = runCli("attention --model vit-micro --image " + quoted(kPhoto) + " --head median --out " + quoted(out));
    REQUIRE(r.exitCode != 0);
    REQUIRE(r.output.find("median") != std::string::npos);

    r = runCli("patches --model vit-micro --image " + quoted(kPhoto) + " --pca --norms --out " + quoted(out));
    REQUIRE(r.exitCode != 0);
    REQUIRE_FALSE(fs::exists(out));
}

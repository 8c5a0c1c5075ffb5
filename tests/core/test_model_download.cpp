// Downloads (core/model/model_download.h) against a server on 127.0.0.1 standing in for the
// publishers: the file appears only when complete and its hash checked; a truncated or reset
// transfer keeps a part that the next download resumes with a range request; a server that
// ignores ranges restarts it; a wrong hash, a 404 or a cancel leave nothing that could load.
#include "core/common/files.h"
#include "core/model/checkpoint.h"
#include "core/model/model_download.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "../support/http_server.h"
#include "../support/temp_dir.h"
#include "core/common/error.h"
#include "core/io/atomic_file.h"
#include "core/model/checkpoint.h"
#include "core/model/model_catalogue.h"

namespace fs = std::filesystem;
using namespace vitrine;
using vitrine::testutil::HttpServer;

namespace {

std::string fixture(const char* name) { return core::readFile(fs::path(VITRINE_FIXTURES) / "torch" / name); }

std::string pathOf(const std::string& url) { return url.substr(url.find('/', url.find("://") + 3)); }

/// Files in `dir`, by name.
std::set<std::string> filesIn(const fs::path& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        out.insert(e.path().filename().string());
    return out;
}

struct Env {
    testutil::TempDir dir{"download"};
    HttpServer server;
    Env() {
        ::setenv("VITRINE_MODEL_DIR", dir.path.c_str(), 1);
        ::setenv("VITRINE_MODEL_MIRROR", server.base().c_str(), 1);
    }
    ~Env() {
        ::unsetenv("VITRINE_MODEL_DIR");
        ::unsetenv("VITRINE_MODEL_MIRROR");
    }
};

std::string messageOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const core::Error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("a catalogue model downloads, is pinned on first use, and a changed file is refused", "[model][download]") {
    Env env;
    const auto dino = *core::model::catalogueEntry("dino-vits16");
    REQUIRE_FALSE(dino.verified()); // no published hash: trust on first use
    const std::string body = fixture("vit-tiny-dino-teacher.pth");
    env.server.serve(pathOf(dino.url), body);

    long long lastDone = -1, lastTotal = -1;
    const auto got = core::model::downloadCatalogueModel(
        "dino-vits16", [&](long long done, long long total, const core::Stage& stage) {
            CHECK(stage.kind == core::StageKind::Downloading);
            CHECK(done >= lastDone);
            lastDone = done;
            lastTotal = total;
        });
    CHECK(got.check == core::model::HashCheck::FirstUse);
    CHECK(got.bytes == std::int64_t(body.size()));
    CHECK(lastDone == std::int64_t(body.size()));
    CHECK(lastTotal == std::int64_t(body.size()));
    CHECK(core::readFile(got.file) == body);
    CHECK(got.sha256 == core::model::sha256OfFile(got.file));
    CHECK(core::model::pinnedSha256("dino-vits16") == got.sha256);
    CHECK(filesIn(env.dir.path) == std::set<std::string>{dino.file, "pins.json"});
    CHECK(core::model::downloadedModelPath("dino-vits16") == got.file);

    // Again: now checked against the pin.
    fs::remove(got.file);
    CHECK(core::model::downloadCatalogueModel("dino-vits16").check == core::model::HashCheck::Pinned);

    // The publisher's file changed: refused against the pin, and nothing is left.
    fs::remove(got.file);
    std::string changed = body;
    changed[changed.size() / 2] ^= 1;
    env.server.serve(pathOf(dino.url), changed);
    const auto message = messageOf([] { core::model::downloadCatalogueModel("dino-vits16"); });
    INFO(message);
    CHECK(message.find("pinned") != std::string::npos);
    CHECK(filesIn(env.dir.path) == std::set<std::string>{"pins.json"});
}

TEST_CASE("a published hash or hash prefix decides whether the file is kept", "[model][download]") {
    Env env;
    // DeiT's file name carries its hash prefix; this body is not that file.
    const auto deit = *core::model::catalogueEntry("deit-small-16");
    REQUIRE(deit.sha256 == "cd65a155");
    env.server.serve(pathOf(deit.url), fixture("vit-tiny-timm.pth"));
    const auto message = messageOf([] { core::model::downloadCatalogueModel("deit-small-16"); });
    INFO(message);
    CHECK(message.find("publisher") != std::string::npos);
    CHECK(filesIn(env.dir.path).empty());

    // A full published hash: kept when equal, refused when one bit differs.
    const std::string body = fixture("vit-tiny-timm.pth");
    const fs::path reference = env.dir / "reference.bin";
    core::io::writeFileAtomically(reference, body);
    const std::string sha = core::model::sha256OfFile(reference);
    fs::remove(reference);
    env.server.serve("/full.pth", body);
    core::model::DownloadRequest request;
    request.url = env.server.base() + "/full.pth";
    request.target = env.dir / "full.pth";
    request.expectedSha256 = sha;
    CHECK(core::model::downloadFile(request).check == core::model::HashCheck::Published);
    CHECK(core::readFile(request.target) == body);
    fs::remove(request.target);
    std::string flipped = body;
    flipped.back() ^= 0x80;
    env.server.serve("/full.pth", flipped);
    CHECK_THROWS_AS(core::model::downloadFile(request), core::Error);
    CHECK(filesIn(env.dir.path).empty());
}

TEST_CASE("a missing file is reported with the server's answer", "[model][download]") {
    Env env;
    const auto message = messageOf([] { core::model::downloadCatalogueModel("mae-vitb16"); });
    INFO(message);
    CHECK(message.find("404") != std::string::npos);
    CHECK(filesIn(env.dir.path).empty());
    CHECK_THROWS_WITH(core::model::downloadCatalogueModel("no-such-model"), Catch::Contains("dino-vits16"));
}

TEST_CASE("a truncated or reset download resumes where it stopped", "[model][download]") {
    Env env;
    const auto entry = *core::model::catalogueEntry("dinov2-vits14-reg4");
    const std::string body = fixture("dinov2-reg.pth");
    const auto mode = GENERATE(HttpServer::Mode::Truncated, HttpServer::Mode::Reset);
    env.server.serve(pathOf(entry.url), body, mode);

    const auto message = messageOf([] { core::model::downloadCatalogueModel("dinov2-vits14-reg4"); });
    INFO(message);
    CHECK(message.find("resume") != std::string::npos);
    // Only the part is there (not a loadable file), with the bytes that arrived.
    CHECK(core::model::downloadedModelPath("dinov2-vits14-reg4").empty());
    const auto kept = core::model::partialDownloadBytes("dinov2-vits14-reg4");
    CHECK(kept == std::int64_t(body.size() / 2));

    env.server.setMode(pathOf(entry.url), HttpServer::Mode::Normal);
    const auto got = core::model::downloadCatalogueModel("dinov2-vits14-reg4");
    CHECK(got.resumedFrom == kept);
    CHECK(env.server.ranges().back() == "bytes=" + std::to_string(kept) + "-");
    CHECK(core::readFile(got.file) == body);
    CHECK(got.sha256 == core::model::sha256OfFile(got.file)); // the resumed hash covers the whole file
    CHECK(filesIn(env.dir.path) == std::set<std::string>{entry.file, "pins.json"});

    // Opened by name, it runs at the publisher's evaluation size and preprocessing (DINOv2:
    // 224 px, bicubic, crop 0.875, ImageNet mean/std), not at its file's position grid.
    core::model::LoadOptions o;
    o.heads = 2;
    const auto loaded = core::model::loadModel("dinov2-vits14-reg4", o);
    const auto& c = loaded.model->config();
    CHECK(c.imageSize == 224);
    CHECK(c.registers == 4);
    CHECK(c.inputOptions().interpolation == core::image::Interpolation::Bicubic);
    CHECK(c.inputOptions().cropPct == Approx(0.875));
}

TEST_CASE("a server that ignores ranges restarts the download from the start", "[model][download]") {
    Env env;
    const auto entry = *core::model::catalogueEntry("dinov2-vits14");
    const std::string body = fixture("dinov2-reg.pth");
    env.server.serve(pathOf(entry.url), body, HttpServer::Mode::Truncated);
    CHECK_THROWS_AS(core::model::downloadCatalogueModel("dinov2-vits14"), core::Error);
    REQUIRE(core::model::partialDownloadBytes("dinov2-vits14") > 0);
    env.server.setMode(pathOf(entry.url), HttpServer::Mode::IgnoreRange);
    const auto got = core::model::downloadCatalogueModel("dinov2-vits14");
    CHECK(got.resumedFrom == 0);
    CHECK(core::readFile(got.file) == body);
}

TEST_CASE("a cancelled slow download keeps its part, and the next one finishes it", "[model][download]") {
    Env env;
    const auto entry = *core::model::catalogueEntry("dino-vitb16");
    std::string body = fixture("clip.pth");
    env.server.serve(pathOf(entry.url), body, HttpServer::Mode::Slow);
    core::CancelToken cancel;
    long long seen = 0;
    CHECK_THROWS_AS(core::model::downloadCatalogueModel(
                        "dino-vitb16",
                        [&](long long done, long long, const vitrine::core::Stage&) {
                            seen = done;
                            if (done > 16384)
                                cancel.cancel();
                        },
                        &cancel),
                    core::Cancelled);
    CHECK(seen > 16384);
    const auto kept = core::model::partialDownloadBytes("dino-vitb16");
    CHECK(kept > 0);
    CHECK(kept < std::int64_t(body.size()));
    CHECK(core::model::downloadedModelPath("dino-vitb16").empty());

    env.server.setMode(pathOf(entry.url), HttpServer::Mode::Normal);
    const auto got = core::model::downloadCatalogueModel("dino-vitb16");
    CHECK(got.resumedFrom == kept);
    CHECK(core::readFile(got.file) == body);
}

TEST_CASE("a part left by a download from another address is not resumed", "[model][download]") {
    Env env;
    const auto entry = *core::model::catalogueEntry("dino-vits8");
    const std::string body = fixture("vit-tiny-dino-teacher.pth");
    env.server.serve(pathOf(entry.url), body);
    // A part written by a download of another URL.
    core::io::writeFileAtomically(env.dir / (entry.file + ".part"), std::string(1000, 'x'));
    core::io::writeFileAtomically(env.dir / (entry.file + ".part.json"), R"({"url": "http://elsewhere/file"})");
    const auto got = core::model::downloadCatalogueModel("dino-vits8");
    CHECK(got.resumedFrom == 0);
    CHECK(core::readFile(got.file) == body);
}

// vitrine-cli models list | info | download, against a server on 127.0.0.1 standing in for
// the publishers: the same downloader as the window's, with JSON output, Ctrl-C keeping a
// part that the same command resumes, and exit codes that say what happened.
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "../support/http_server.h"
#include "../support/temp_dir.h"
#include "cli_run.h"
#include "core/common/files.h"
#include "core/model/model_catalogue.h"

namespace fs = std::filesystem;
using namespace vitrine;
using testutil::cli;
using testutil::HttpServer;

TEST_CASE("vitrine-cli models lists, describes and downloads the catalogue", "[cli][download]") {
    testutil::TempDir dir("cli-models");
    HttpServer server;
    const fs::path models = dir / "models";
    const std::string env = "VITRINE_MODEL_DIR='" + models.string() + "' VITRINE_MODEL_MIRROR=" + server.base() + " ";

    auto list = cli("models list --json", dir.path, env);
    REQUIRE(list.code == 0);
    const auto all = nlohmann::json::parse(list.out);
    REQUIRE(all.is_array());
    CHECK(all.size() == core::model::modelCatalogue().size());
    for (const auto& e : all) {
        CHECK_FALSE(e["downloaded"].get<bool>());
        // Never an invented hash: a verified entry names where its hash is published.
        if (e["verified"].get<bool>())
            CHECK_FALSE(e["hash_source"].get<std::string>().empty());
    }

    const auto dino = *core::model::catalogueEntry("dino-vits16");
    const std::string body = core::readFile(fs::path(VITRINE_FIXTURES) / "torch" / "vit-tiny-dino-teacher.pth");
    const std::string path = dino.url.substr(dino.url.find('/', dino.url.find("://") + 3));
    server.serve(path, body);
    auto got = cli("models download dino-vits16 --json", dir.path, env);
    INFO(got.err);
    REQUIRE(got.code == 0);
    const auto last = nlohmann::json::parse(got.out.substr(got.out.rfind('{')));
    CHECK(last["event"] == "done");
    CHECK(last["hash_check"] == "pinned now (first use)");
    CHECK(core::readFile(models / dino.file) == body);
    // Progress lines count bytes (the shared progress printer in its byte unit), ending complete.
    const auto firstLine = nlohmann::json::parse(got.out.substr(0, got.out.find('\n')));
    CHECK(firstLine["event"] == "progress");
    CHECK(firstLine.contains("bytes_per_second"));
    CHECK_FALSE(firstLine.contains("images_per_second"));
    const auto lastProgress = got.out.rfind("\"event\":\"progress\"");
    REQUIRE(lastProgress != std::string::npos);
    const auto lp = nlohmann::json::parse(got.out.substr(
        got.out.rfind('{', lastProgress), got.out.find('\n', lastProgress) - got.out.rfind('{', lastProgress)));
    CHECK(lp["done"] == lp["total"]);
    CHECK(lp["total"].get<long long>() == static_cast<long long>(body.size()));

    auto info = cli("models info dino-vits16 --json", dir.path, env);
    REQUIRE(info.code == 0);
    const auto j = nlohmann::json::parse(info.out);
    CHECK(j["downloaded"].get<bool>());
    CHECK(j["pinned_sha256"] == last["sha256"]);
    // The downloaded model opens by name.
    auto described = cli("info --model dino-vits16 --heads 2 --json", dir.path, env);
    INFO(described.err);
    CHECK(described.code == 0);

    CHECK(cli("models download no-such-model", dir.path, env).code == 2);
    server.serve(path, body + "x"); // the publisher's file changed: refused against the pin
    fs::remove(models / dino.file);
    auto refused = cli("models download dino-vits16", dir.path, env);
    CHECK(refused.code == 1);
    CHECK(refused.err.find("pinned") != std::string::npos);
    CHECK_FALSE(fs::exists(models / dino.file));
}

TEST_CASE("Ctrl-C stops vitrine-cli models download, and the same command resumes", "[cli][download]") {
    testutil::TempDir dir("cli-models-interrupt");
    HttpServer server;
    const fs::path models = dir / "models";
    const std::string env = "VITRINE_MODEL_DIR='" + models.string() + "' VITRINE_MODEL_MIRROR=" + server.base() + " ";
    const auto entry = *core::model::catalogueEntry("dinov2-vits14");
    const std::string body = core::readFile(fs::path(VITRINE_FIXTURES) / "torch" / "clip.pth");
    const std::string path = entry.url.substr(entry.url.find('/', entry.url.find("://") + 3));
    server.serve(path, body, HttpServer::Mode::Slow);

    // SIGINT from a shell background job once bytes arrive (the slow server sends 4 KiB / 20 ms).
    const std::string part = (models / (entry.file + ".part")).string();
    auto stopped = cli("models download dinov2-vits14 & pid=$!; "
                       "for i in $(seq 100); do [ -s '" +
                           part +
                           "' ] && break; sleep 0.05; done; "
                           "kill -INT $pid; wait $pid; echo \"exit=$?\"",
                       dir.path, env);
    // The shell's echo goes to stdout after the command's: the command's own exit status.
    INFO(stopped.out << stopped.err);
    CHECK(stopped.out.find("exit=130") != std::string::npos);
    CHECK(fs::exists(part));
    CHECK_FALSE(fs::exists(models / entry.file));

    server.setMode(path, HttpServer::Mode::Normal);
    auto resumed = cli("models download dinov2-vits14 --json", dir.path, env);
    INFO(resumed.err);
    REQUIRE(resumed.code == 0);
    const auto last = nlohmann::json::parse(resumed.out.substr(resumed.out.rfind('{')));
    CHECK(last["resumed_from"].get<long long>() > 0);
    CHECK(core::readFile(models / entry.file) == body);
}

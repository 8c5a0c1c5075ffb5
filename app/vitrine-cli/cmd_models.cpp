// vitrine-cli models list | info NAME | download NAME: the model catalogue from the command
// line, with the same downloader as the window's Model → Download… (core/model/model_download.h).

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "app/vitrine-cli/commands.h"
#include "app/vitrine-cli/progress.h"
#include "core/common/error.h"
#include "core/model/model_catalogue.h"
#include "core/model/model_download.h"

namespace vitrine::cli {

namespace {

namespace model = core::model;

nlohmann::json entryJson(const model::CatalogueEntry& e) {
    const auto file = model::downloadedModelPath(e.name);
    nlohmann::json j{{"name", e.name},
                     {"title", e.title},
                     {"url", e.url},
                     {"file", e.file},
                     {"licence", e.licence},
                     {"description", e.note},
                     {"approx_megabytes", e.approxMegabytes},
                     {"verified", e.verified()},
                     {"downloaded", !file.empty()},
                     {"path", file.empty() ? (model::downloadedModelsDir() / e.file).string() : file.string()}};
    if (e.verified()) {
        j["sha256"] = e.sha256;
        j["hash_source"] = e.hashSource;
    }
    if (const auto pin = model::pinnedSha256(e.name))
        j["pinned_sha256"] = *pin;
    if (const auto part = model::partialDownloadBytes(e.name); part > 0)
        j["partial_bytes"] = part;
    return j;
}

std::string hashLine(const model::CatalogueEntry& e) {
    if (e.verified())
        return std::string(e.sha256.size() == 64 ? "sha256 " : "sha256 prefix ") + e.sha256 + " (" + e.hashSource + ")";
    if (const auto pin = model::pinnedSha256(e.name))
        return "unverified: no published hash; pinned at its first download: " + *pin;
    return "unverified: no published hash; the first download's hash will be pinned";
}

/// The catalogue entry `name`; an unknown name is a usage error (exit code 2).
model::CatalogueEntry knownEntry(const std::string& name) {
    auto e = model::catalogueEntry(name);
    if (!e)
        throw UsageError("unknown model '" + name + "'; `vitrine-cli models list` shows the catalogue");
    return *e;
}

} // namespace

void addModelsCommand(CLI::App& app, CliContext& ctx) {
    auto* cmd = app.add_subcommand("models", "List, describe and download the catalogue's pretrained checkpoints");
    cmd->require_subcommand(1);
    cmd->footer("Downloads go to " + model::downloadedModelsDir().string() +
                " ($VITRINE_MODEL_DIR); once there, --model NAME opens them.");

    struct Opts {
        bool json = false;
        std::string name;
    };
    auto opts = std::make_shared<Opts>();

    auto* list = cmd->add_subcommand("list", "The catalogue: name, size, licence, whether downloaded");
    list->add_flag("--json", opts->json, "One JSON array on stdout");
    list->callback([opts] {
        if (opts->json) {
            nlohmann::json all = nlohmann::json::array();
            for (const auto& e : model::modelCatalogue())
                all.push_back(entryJson(e));
            std::cout << all.dump(2) << '\n';
            return;
        }
        std::printf("%-20s %8s  %-13s %-11s %s\n", "NAME", "SIZE", "LICENCE", "STATE", "TITLE");
        for (const auto& e : model::modelCatalogue()) {
            const bool have = !model::downloadedModelPath(e.name).empty();
            const auto part = model::partialDownloadBytes(e.name);
            const std::string state = have ? "downloaded" : part > 0 ? "partial" : "-";
            std::printf("%-20s %5d MB  %-13s %-11s %s%s\n", e.name.c_str(), e.approxMegabytes, e.licence.c_str(),
                        state.c_str(), e.title.c_str(), e.verified() ? "" : " [unverified]");
        }
        std::printf("\nSaved in %s. [unverified]: the publisher gives no hash; the first download's is pinned.\n",
                    model::downloadedModelsDir().string().c_str());
    });

    auto* info = cmd->add_subcommand("info", "One entry: URL, licence, hash and its source, where it is saved");
    info->add_option("name", opts->name, "Catalogue name (see `models list`)")->required();
    info->add_flag("--json", opts->json, "One JSON object on stdout");
    info->callback([opts] {
        const auto e = knownEntry(opts->name);
        if (opts->json) {
            std::cout << entryJson(e).dump(2) << '\n';
            return;
        }
        const auto j = entryJson(e);
        std::cout << e.name << ": " << e.title << '\n'
                  << "  " << e.note << '\n'
                  << "  url:      " << e.url << '\n'
                  << "  size:     about " << e.approxMegabytes << " MB\n"
                  << "  licence:  " << e.licence << '\n'
                  << "  hash:     " << hashLine(e) << '\n'
                  << "  file:     " << j["path"].get<std::string>()
                  << (j["downloaded"].get<bool>() ? " (downloaded)" : " (not downloaded)") << '\n';
        if (j.contains("partial_bytes"))
            std::cout << "  partial:  " << j["partial_bytes"].get<long long>() << " bytes kept; `models download "
                      << e.name << "` resumes\n";
    });

    auto* download = cmd->add_subcommand("download", "Download one entry (resumes a partial download)");
    download->add_option("name", opts->name, "Catalogue name (see `models list`)")->required();
    download->add_flag("--json", opts->json, "JSON-lines progress and a summary object on stdout");
    download->callback([opts, &ctx] {
        const auto e = knownEntry(opts->name);
        ProgressPrinter printer(opts->json, ProgressUnit::Bytes);
        if (!opts->json)
            std::cerr << "downloading " << e.name << " from " << model::mirroredUrl(e.url) << '\n';
        try {
            const auto got = model::downloadCatalogueModel(e.name, printer.fn(), &ctx.cancelToken());
            printer.breakLine();
            if (opts->json) {
                std::cout << nlohmann::json{{"event", "done"},
                                            {"name", e.name},
                                            {"path", got.file.string()},
                                            {"bytes", got.bytes},
                                            {"sha256", got.sha256},
                                            {"hash_check", model::hashCheckName(got.check)},
                                            {"resumed_from", got.resumedFrom}}
                                 .dump()
                          << std::endl;
            } else {
                std::cout << got.file.string() << '\n'
                          << "  " << got.bytes << " bytes"
                          << (got.resumedFrom > 0 ? " (resumed after " + std::to_string(got.resumedFrom) + ")" : "")
                          << ", sha256 " << got.sha256 << " (" << model::hashCheckName(got.check) << ")\n"
                          << "  open it with --model " << e.name << '\n';
            }
        } catch (const core::Cancelled&) {
            printer.breakLine();
            std::cerr << "cancelled; " << model::partialDownloadBytes(e.name)
                      << " bytes are kept: run the same command to resume\n";
            ctx.exitCode = ExitCode::Cancelled;
        } catch (const core::Error&) {
            printer.breakLine();
            throw;
        }
    });
}

} // namespace vitrine::cli

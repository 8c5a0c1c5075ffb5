// vitrine-cli scan DIR [--json]: classes, counts and every skipped file with its reason.
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/vitrine-cli/commands.h"
#include "app/vitrine-cli/progress.h"
#include "core/data/dataset.h"

namespace vitrine::cli {

void addScanCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        std::string dir;
        bool json = false;
        bool quick = false;
        int level = -1;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("scan", "List a data set's classes, counts and skipped files");
    cmd->add_option("dir", opts->dir, "Folder with one sub-folder per class")->required();
    cmd->add_flag("--json", opts->json, "Machine-readable output");
    cmd->add_flag("--quick", opts->quick, "Check headers only, not whole files");
    cmd->add_option("--label-level", opts->level, "Label level for nested folders (0 = top, -1 = deepest)");
    cmd->callback([opts, &ctx] {
        core::data::ScanOptions so;
        so.verifyImages = !opts->quick;
        ProgressPrinter printer(false); // --json prints one object: progress only as a bar on a terminal
        auto ds = core::data::scanFolder(opts->dir, so, printer.fn(), &ctx.cancelToken());
        printer.breakLine();
        auto names = ds.classNames(opts->level);
        auto ids = ds.classIds(opts->level);
        std::vector<int> counts(names.size(), 0);
        for (int id : ids)
            ++counts[static_cast<std::size_t>(id)];
        if (opts->json) {
            nlohmann::json j;
            j["root"] = ds.root.string();
            j["images"] = ds.samples.size();
            j["levels"] = ds.maxLevel() + 1;
            j["classes"] = nlohmann::json::array();
            for (std::size_t i = 0; i < names.size(); ++i)
                j["classes"].push_back({{"name", names[i]}, {"count", counts[i]}});
            j["skipped"] = nlohmann::json::array();
            for (const auto& s : ds.skipped)
                j["skipped"].push_back({{"path", s.path}, {"reason", s.reason}});
            std::cout << j.dump(2) << '\n';
        } else {
            std::cout << ds.root.string() << ": " << ds.samples.size() << " images in " << names.size() << " classes ("
                      << ds.maxLevel() + 1 << " label level" << (ds.maxLevel() > 0 ? "s" : "") << "), "
                      << ds.skipped.size() << " skipped\n";
            for (std::size_t i = 0; i < names.size(); ++i)
                std::cout << "  " << names[i] << '\t' << counts[i] << '\n';
            for (const auto& s : ds.skipped)
                std::cerr << "skipped " << s.path << ": " << s.reason << '\n';
        }
        ctx.exitCode = ds.samples.empty() ? ExitCode::Failed : ExitCode::Done;
    });
}

} // namespace vitrine::cli

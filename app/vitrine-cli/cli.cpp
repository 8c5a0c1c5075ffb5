#include "app/vitrine-cli/cli.h"

#include <iostream>

#include "app/vitrine-cli/commands.h"
#include "core/common/error.h"
#include "core/common/precision.h"
#include "core/common/runtime.h"

namespace vitrine::cli {

nlohmann::json PreprocessFlags::toJson() const {
    nlohmann::json j = nlohmann::json::object();
    if (!mean.empty())
        j["mean"] = mean.size() == 1 ? nlohmann::json(mean[0]) : nlohmann::json(mean);
    if (!stddev.empty())
        j["std"] = stddev.size() == 1 ? nlohmann::json(stddev[0]) : nlohmann::json(stddev);
    if (cropPct != 0)
        j["crop_pct"] = cropPct;
    if (!interpolation.empty())
        j["interpolation"] = interpolation;
    return j.empty() ? nlohmann::json() : j;
}

void addPreprocessFlags(CLI::App* cmd, PreprocessFlags& f) {
    cmd->add_option("--mean", f.mean, "Override the model's per-channel input mean (3 numbers, or 1 for all)")
        ->expected(1, 3)
        ->group("Preprocessing (default: the model's own)");
    cmd->add_option("--std", f.stddev, "Override the model's per-channel input std (3 numbers, or 1 for all)")
        ->expected(1, 3)
        ->group("Preprocessing (default: the model's own)");
    cmd->add_option("--crop-pct", f.cropPct, "Override the centre-crop fraction in (0, 1] (resize to S / crop first)")
        ->group("Preprocessing (default: the model's own)");
    cmd->add_option("--interpolation", f.interpolation, "Override the resize filter")
        ->check(CLI::IsMember({"bilinear", "bicubic"}))
        ->group("Preprocessing (default: the model's own)");
}

int run(int argc, char** argv) {
    CLI::App app{"vitrine-cli: embed, train, inspect and export Vision Transformer embeddings"};
    app.require_subcommand(1);
    // Global options (--threads) may also follow the subcommand: its parser hands options it
    // does not know to this one. Set before the subcommands are added, which inherit it.
    app.fallthrough();
    CliContext ctx;
    // The compute summary is built only when asked (it may run the bf16 probe).
    app.set_version_flag("--version", [&ctx] {
        core::setComputeThreads(ctx.threads);
        return std::string("vitrine-cli ") + VITRINE_VERSION + "\n" + core::computeSummary();
    });
    app.add_option("--threads", ctx.threads, "Compute threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    app.parse_complete_callback([&] { core::setComputeThreads(ctx.threads); });

    addInfoCommand(app, ctx);
    addScanCommand(app, ctx);
    addTrainCommand(app, ctx);
    addEvalCommand(app, ctx);
    addEmbedCommand(app, ctx);
    addAttentionCommand(app, ctx);
    addPatchesCommand(app, ctx);
    addNeighboursCommand(app, ctx);
    addProjectCommand(app, ctx);
    addExportCommand(app, ctx);
    addConvertCommand(app, ctx);
    addModelsCommand(app, ctx);
    addMergeCommand(app, ctx);
    addAuditCommand(app, ctx);
    addFilesCommand(app, ctx);
    addCompareCommand(app, ctx);
    addSelectCommand(app, ctx);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const core::Cancelled&) {
        std::cerr << "cancelled\n";
        return 130;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        return 1;
    }
    return ctx.exitCode;
}

} // namespace vitrine::cli

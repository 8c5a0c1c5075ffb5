#include "app/vitrine-cli/cli.h"

#include <iostream>

#include "app/vitrine-cli/commands.h"
#include "app/vitrine-cli/exit_codes.h"
#include "app/vitrine-cli/interrupt.h"
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

core::CancelToken& CliContext::cancelToken() {
    InterruptScope::armCancellation();
    return m_cancel;
}

void addInferenceFlags(CLI::App* cmd, int& batch, std::string& precision) {
    cmd->add_option("--batch", batch, "Images per forward pass")->check(CLI::Range(1, 4096))->capture_default_str();
    cmd->add_option("--precision", precision,
                    "auto (the fastest this CPU measured: bf16 where native, int8 Linear layers where faster still "
                    "and within cosine 0.99 of fp32 on the first batch), fp32, bf16 or int8")
        ->check(CLI::IsMember({"auto", "fp32", "bf16", "int8"}))
        ->capture_default_str();
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
    app.footer(kExitCodeHelp);
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

    // The job contract (exit_codes.h): every way a subcommand can end becomes its status here,
    // and Ctrl-C / SIGTERM reach every subcommand's job through this one scope.
    InterruptScope interrupt(ctx.m_cancel);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version reach here too, as CLI11 "errors" with status 0; every other
        // parse error (unknown option, missing or invalid value) is a usage error, whatever
        // CLI11's own number for it.
        const int printed = app.exit(e);
        return printed == 0 ? ExitCode::Done : ExitCode::Usage;
    } catch (const UsageError& e) {
        std::cerr << "error: " << e.what() << "\n"
                  << "Run with --help for more information.\n";
        return ExitCode::Usage;
    } catch (const core::Cancelled&) {
        std::cerr << "cancelled\n";
        return ExitCode::Cancelled;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        return ExitCode::Failed;
    }
    return ctx.exitCode;
}

} // namespace vitrine::cli

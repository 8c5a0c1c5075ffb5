#pragma once
// Each subcommand registers itself on the CLI11 app; the callback it installs sets the exit
// code of a job that ran to its end, or throws (UsageError, core::Cancelled, core::Error):
// exit_codes.h is the contract. Declared here, defined in cmd_<name>.cpp.

#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app/vitrine-cli/exit_codes.h"
#include "core/common/job.h"

namespace vitrine::cli {

/// `v` with `digits` decimals, for the commands' tables.
inline std::string fixed(double v, int digits) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(digits) << v;
    return o.str();
}

/// Shared state the subcommands write their result into.
struct CliContext {
    int exitCode = ExitCode::Done; ///< exit_codes.h
    int threads = 0;               ///< --threads, 0 = all cores

    /// The running command's job token, for every core job it starts: from the first call on,
    /// Ctrl-C and SIGTERM cancel it (run()'s one InterruptScope) and the job unwinds with
    /// core::Cancelled (status 130). A command that never asks is ended by the signal at once.
    core::CancelToken& cancelToken();

private:
    core::CancelToken m_cancel;
    friend int run(int argc, char** argv);
};

/// --mean, --std, --crop-pct, --interpolation: overrides of the model's preprocessing.
struct PreprocessFlags {
    std::vector<float> mean, stddev;
    double cropPct = 0;
    std::string interpolation;
    /// The overrides given, as image::PreprocessOptions::merged keys; null when none.
    nlohmann::json toJson() const;
};
void addPreprocessFlags(CLI::App* cmd, PreprocessFlags& flags);

/// --batch (images per forward pass) and --precision (auto, fp32, bf16, int8) of the commands
/// that embed images through core::model::Embedder (embed, audit, compare): one wording of
/// what "auto" chooses, one range.
void addInferenceFlags(CLI::App* cmd, int& batch, std::string& precision);

void addInfoCommand(CLI::App& app, CliContext& ctx);
void addConvertCommand(CLI::App& app, CliContext& ctx);
void addScanCommand(CLI::App& app, CliContext& ctx);
void addTrainCommand(CLI::App& app, CliContext& ctx);
void addEvalCommand(CLI::App& app, CliContext& ctx);
void addEmbedCommand(CLI::App& app, CliContext& ctx);
void addAttentionCommand(CLI::App& app, CliContext& ctx); // cmd_inspect.cpp
void addPatchesCommand(CLI::App& app, CliContext& ctx);   // cmd_inspect.cpp
void addNeighboursCommand(CLI::App& app, CliContext& ctx);
void addProjectCommand(CLI::App& app, CliContext& ctx);
void addExportCommand(CLI::App& app, CliContext& ctx);
void addModelsCommand(CLI::App& app, CliContext& ctx); // cmd_models.cpp
void addMergeCommand(CLI::App& app, CliContext& ctx);  // cmd_merge.cpp
void addAuditCommand(CLI::App& app, CliContext& ctx);
void addFilesCommand(CLI::App& app, CliContext& ctx);
void addCompareCommand(CLI::App& app, CliContext& ctx);
void addSelectCommand(CLI::App& app, CliContext& ctx);
// Further commands (embed, train, eval, attention, patches, neighbours, project, export)
// are declared here by their cmd_*.cpp files as they are added.

} // namespace vitrine::cli

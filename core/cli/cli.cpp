#include "core/cli/cli.h"

#include <iostream>

#include "core/cli/commands.h"
#include "core/common/error.h"
#include "core/common/runtime.h"

namespace vitrine::cli {

int run(int argc, char** argv) {
    CLI::App app{"vitrine-cli: embed, train, inspect and export Vision Transformer embeddings"};
    app.set_version_flag("--version", std::string("vitrine-cli ") + VITRINE_VERSION);
    app.require_subcommand(1);
    CliContext ctx;
    app.add_option("--threads", ctx.threads, "Compute threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    app.parse_complete_callback([&] { core::setComputeThreads(ctx.threads); });

    addScanCommand(app, ctx);
    addTrainCommand(app, ctx);
    addEvalCommand(app, ctx);
    addEmbedCommand(app, ctx);
    addAttentionCommand(app, ctx);
    addPatchesCommand(app, ctx);
    addNeighboursCommand(app, ctx);
    addProjectCommand(app, ctx);
    addExportCommand(app, ctx);

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

// vitrine-cli info: the machine's compute choices and, with --model, what a model is:
// architecture, embedding width, preprocessing, where it came from and how it was trained.
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/vitrine-cli/commands.h"
#include "core/common/precision.h"
#include "core/common/runtime.h"
#include "core/image/codecs.h"
#include "core/model/checkpoint.h"

namespace vitrine::cli {

void addInfoCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        std::string model;
        bool json = false;
        int heads = 0;
        PreprocessFlags pre;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("info", "The CPU, precision and kernels in use; with --model, the model's "
                                           "architecture and preprocessing");
    cmd->add_option("--model", opts->model, "A bundled model name, preset or .safetensors file");
    cmd->add_flag("--json", opts->json, "Machine-readable output");
    cmd->add_option("--heads", opts->heads, "Attention heads for foreign checkpoints (default dim/64)")
        ->check(CLI::NonNegativeNumber);
    addPreprocessFlags(cmd, opts->pre);
    cmd->callback([opts, &ctx] {
        const auto& cpu = core::cpuFeatures();
        const auto precision = core::resolvePrecision(core::Precision::Auto);
        const auto probe = core::bf16ProbeSpeedup();
        nlohmann::json j{
            {"version", VITRINE_VERSION},
            {"cpu", cpu.model},
            {"cpu_flags", cpu.flagsString()},
            {"native_bf16", cpu.nativeBf16()},
            {"precision_auto", core::precisionName(precision)},
            {"bf16_probe_speedup", probe ? nlohmann::json(*probe) : nlohmann::json()},
            {"precision_auto_inference", core::precisionName(core::resolveInferencePrecision(core::Precision::Auto))},
            {"int8_available", core::int8Available()},
            {"int8_probe_speedup",
             core::int8ProbeSpeedup() ? nlohmann::json(*core::int8ProbeSpeedup()) : nlohmann::json()},
            {"bf16_probe_cached", core::bf16ProbeCached()},
            {"kernels", core::kernelSummary()},
            {"threads", core::computeThreads()},
            {"bundled_models", core::model::bundledModelNames()},
            {"image_decoders", core::image::codecVersions()}};
        if (!opts->model.empty()) {
            core::model::LoadOptions lo;
            lo.heads = opts->heads;
            lo.preprocess = opts->pre.toJson();
            auto loaded = core::model::loadModel(opts->model, lo);
            const auto& c = loaded.model->config();
            nlohmann::json m{{"source", loaded.source},
                             {"layout", loaded.layout},
                             {"weights_loaded", loaded.weightsLoaded},
                             {"config", c.toJson()},
                             {"embedding_dim", c.outputDim()},
                             {"preprocess", c.inputOptions().describe()},
                             {"warnings", loaded.warnings}};
            for (const char* key :
                 {"name", "training", "validation", "label_level", "description", "licence", "attribution"})
                if (loaded.metadata.contains(key))
                    m[key] = loaded.metadata[key];
            j["model"] = m;
        }
        if (opts->json) {
            std::cout << j.dump(2) << '\n';
        } else {
            std::cout << "vitrine-cli " << VITRINE_VERSION << '\n' << core::computeSummary() << '\n';
            std::cout << "image decoders: " << core::image::codecVersions() << '\n';
            std::cout << "bundled models:";
            for (const auto& n : j["bundled_models"])
                std::cout << ' ' << n.get<std::string>();
            std::cout << '\n';
            if (j.contains("model")) {
                const auto& m = j["model"];
                const auto& c = m["config"];
                std::cout << "\nmodel " << m["source"].get<std::string>() << " (" << m["layout"].get<std::string>()
                          << " layout" << (m["weights_loaded"].get<bool>() ? "" : ", random weights") << ")\n"
                          << "  architecture  patch " << c["patch_size"] << ", " << c["image_size"] << " px, dim "
                          << c["dim"] << ", depth " << c["depth"] << ", heads " << c["heads"] << ", pool "
                          << c["pool"].get<std::string>() << '\n'
                          << "  embedding     " << m["embedding_dim"] << " values"
                          << (c["embed_dim"].get<int>() > 0 ? " (L2-normalised head)" : " (features, no head)") << '\n'
                          << "  preprocessing " << m["preprocess"].get<std::string>() << '\n';
                for (const char* key : {"name", "description", "attribution", "licence"})
                    if (m.contains(key))
                        std::cout << "  " << key << std::string(14 - std::string(key).size(), ' ')
                                  << (m[key].is_string() ? m[key].get<std::string>() : m[key].dump()) << '\n';
                if (m.contains("validation"))
                    std::cout << "  validation    " << m["validation"].dump() << '\n';
                for (const auto& w : m["warnings"])
                    std::cerr << "warning: " << w.get<std::string>() << '\n';
            }
        }
        ctx.exitCode = ExitCode::Done;
    });
}

} // namespace vitrine::cli

// vitrine-cli audit --model M --data DIR: what in a data set needs fixing — duplicates,
// leakage across the split or labels, likely mislabels, outliers (core/analysis/audit.h).
#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/vitrine-cli/commands.h"
#include "app/vitrine-cli/embed_rows.h"
#include "app/vitrine-cli/progress.h"
#include "core/analysis/audit.h"
#include "core/common/error.h"

namespace vitrine::cli {

void addAuditCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        std::string model = "default", data, embeddings, precision = "auto";
        int labelLevel = -1, batch = 32, top = 20;
        bool json = false;
        core::analysis::AuditOptions audit;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("audit", "Find duplicates, leakage, likely mislabels and outliers in a data set");
    cmd->add_option("--model", opts->model, "Model to embed with (as for embed); unused with --embeddings")
        ->capture_default_str();
    cmd->add_option("--data", opts->data, "The data set folder (one sub-folder per class)")->required();
    cmd->add_option("--embeddings", opts->embeddings,
                    "Precomputed embeddings of --data (.npy/.safetensors/.csv with the .rows.tsv embed wrote)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--label-level", opts->labelLevel, "Label level for nested folders (0 = top, -1 = deepest)")
        ->capture_default_str();
    cmd->add_option("-k", opts->audit.k, "Neighbours per image for the scores")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    cmd->add_option("--near-duplicate", opts->audit.nearDuplicateDistance,
                    "Cosine distance under which two images are near duplicates (default: chosen from the data)");
    cmd->add_option("--top", opts->top, "Rows per list in the table (--json lists all)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    addInferenceFlags(cmd, opts->batch, opts->precision);
    cmd->add_flag("--json", opts->json, "One JSON object on stdout");
    cmd->callback([opts, cmd, &ctx] {
        const std::filesystem::path root(opts->data);
        if (!std::filesystem::is_directory(root))
            throw core::Error(root, "not a folder");
        core::CancelToken& token = ctx.cancelToken();
        ProgressPrinter printer(false); // --json prints one object: progress only as a bar on a terminal

        EmbeddedRows er;
        if (!opts->embeddings.empty()) {
            er = loadEmbeddingRows(opts->embeddings, cmd->count("--label-level") > 0
                                                         ? std::optional<int>(opts->labelLevel)
                                                         : std::nullopt);
        } else {
            const auto ds = scanForEmbedding(root, token);
            er = embedRows(opts->model, ds, opts->labelLevel, opts->batch, opts->precision, printer, token);
        }
        const core::Matrix& embeddings = er.embeddings;
        const core::io::RowTable& rows = er.rows;
        const std::string& source = er.source;
        if (embeddings.rows == 0)
            throw core::Error(root, "no images to audit");

        auto rep = core::analysis::audit(embeddings, rows, root, opts->audit, printer.fn(), &token);
        printer.breakLine();
        for (const auto& u : rep.unreadable)
            std::cerr << "warning: " << u << " (not checked for exact duplicates)\n";
        auto path = [&](std::int64_t r) -> const std::string& { return rows.value(r, "path"); };
        auto label = [&](std::int64_t r) -> const std::string& { return rows.value(r, "label"); };

        if (opts->json) {
            nlohmann::json j;
            j["duplicates"] = nlohmann::json::array();
            for (const auto& g : rep.duplicates) {
                nlohmann::json paths = nlohmann::json::array();
                for (auto r : g.rows)
                    paths.push_back(path(r));
                j["duplicates"].push_back({{"paths", paths}, {"exact", g.exact}, {"distance", g.distance}});
            }
            j["mislabels"] = nlohmann::json::array();
            for (const auto& m : rep.mislabels)
                j["mislabels"].push_back(
                    {{"path", path(m.row)}, {"label", m.label}, {"suggested", m.suggested}, {"score", m.score}});
            j["outliers"] = nlohmann::json::array();
            for (const auto& o : rep.outliers)
                j["outliers"].push_back({{"path", path(o.row)}, {"score", o.score}, {"knn_distance", o.knnDistance}});
            j["leakage"] = nlohmann::json::array();
            for (const auto& l : rep.leakage) {
                nlohmann::json paths = nlohmann::json::array(), labels = nlohmann::json::array(),
                               splits = nlohmann::json::array();
                for (auto r : l.rows) {
                    paths.push_back(path(r));
                    labels.push_back(label(r));
                    splits.push_back(rep.splits[static_cast<std::size_t>(r)]);
                }
                j["leakage"].push_back({{"paths", paths},
                                        {"labels", labels},
                                        {"splits", splits},
                                        {"crosses_split", l.crossesSplit},
                                        {"mixed_labels", l.mixedLabels}});
            }
            j["near_duplicate_distance"] = rep.nearDuplicateDistance;
            j["threshold_from_data"] = rep.thresholdFromData;
            j["median_nearest_distance"] = rep.medianNearestDistance;
            j["k"] = rep.k;
            j["images"] = embeddings.rows;
            j["embeddings"] = source;
            j["seconds"] = rep.seconds;
            j["pixel_seconds"] = rep.pixelSeconds;
            std::cout << j.dump(2) << '\n';
            ctx.exitCode = ExitCode::Done;
            return;
        }

        const auto top = static_cast<std::size_t>(opts->top);
        auto more = [&](std::size_t total) {
            if (total > top)
                std::cout << "  ... and " << total - top << " more (--top N, or --json for all)\n";
        };
        std::cout << "Audit of " << root.string() << ": " << embeddings.rows << " images (" << source
                  << "), k = " << rep.k << ", near duplicates under cosine distance "
                  << fixed(rep.nearDuplicateDistance, 4)
                  << (rep.thresholdFromData
                          ? " (half the median nearest-neighbour distance " + fixed(rep.medianNearestDistance, 4) +
                                "; --near-duplicate D to change)"
                          : std::string())
                  << "\n";
        std::cout << "\nDuplicates: " << rep.duplicates.size() << " group(s)\n";
        for (std::size_t i = 0; i < rep.duplicates.size() && i < top; ++i) {
            const auto& g = rep.duplicates[i];
            std::cout << "  " << (g.exact ? "exact" : "near ") << "  " << fixed(g.distance, 4) << "  ";
            for (std::size_t m = 0; m < g.rows.size(); ++m)
                std::cout << (m ? ", " : "") << path(g.rows[m]);
            std::cout << '\n';
        }
        more(rep.duplicates.size());
        std::cout << "\nLeakage (duplicates across the train/validation split or across labels): " << rep.leakage.size()
                  << '\n';
        for (std::size_t i = 0; i < rep.leakage.size() && i < top; ++i) {
            std::cout << " ";
            for (std::size_t m = 0; m < rep.leakage[i].rows.size(); ++m) {
                const auto r = rep.leakage[i].rows[m];
                std::cout << (m ? ", " : " ") << path(r) << " [" << label(r) << ", "
                          << rep.splits[static_cast<std::size_t>(r)] << "]";
            }
            std::cout << '\n';
        }
        more(rep.leakage.size());
        std::cout << "\nLikely mislabels: " << rep.mislabels.size() << "\n";
        if (!rep.mislabels.empty())
            std::cout << "  score  label -> suggested  path\n";
        for (std::size_t i = 0; i < rep.mislabels.size() && i < top; ++i) {
            const auto& m = rep.mislabels[i];
            std::cout << "  " << fixed(m.score, 3) << "  " << m.label << " -> " << m.suggested << "  " << path(m.row)
                      << '\n';
        }
        more(rep.mislabels.size());
        const auto clear = std::count_if(rep.outliers.begin(), rep.outliers.end(),
                                         [&](const auto& o) { return o.score >= opts->audit.minOutlierScore; });
        std::cout << "\nOutliers: the " << rep.outliers.size() << " most isolated images; " << clear
                  << " beyond the usual cut-off (score 0.5)\n";
        if (!rep.outliers.empty())
            std::cout << "  score  kNN distance  path\n";
        for (std::size_t i = 0; i < rep.outliers.size() && i < top; ++i) {
            const auto& o = rep.outliers[i];
            std::cout << "  " << fixed(o.score, 3) << "  " << fixed(o.knnDistance, 4) << "        " << path(o.row)
                      << '\n';
        }
        more(rep.outliers.size());
        ctx.exitCode = ExitCode::Done;
    });
}

} // namespace vitrine::cli

// vitrine-cli compare --data DIR --model A --model B: how two models (or two checkpoints)
// differ on one data set — each image's neighbourhood overlap, per class, and how well the
// two maps line up (core/analysis/compare.h).
#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/vitrine-cli/commands.h"
#include "app/vitrine-cli/embed_rows.h"
#include "app/vitrine-cli/progress.h"
#include "core/analysis/compare.h"
#include "core/analysis/projection.h"
#include "core/common/error.h"

namespace vitrine::cli {

void addCompareCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        std::string data, precision = "auto";
        std::vector<std::string> models, embeddings;
        int labelLevel = -1, batch = 32, top = 20, k = 10;
        bool json = false;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("compare", "Compare two models or checkpoints on one data set: neighbourhood "
                                              "overlap per image and class, alignment of their maps");
    cmd->add_option("--data", opts->data, "The data set folder (one sub-folder per class)")->required();
    auto* models = cmd->add_option("--model", opts->models, "The two models to compare (give --model twice)")
                       ->expected(1)
                       ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    auto* files = cmd->add_option("--embeddings", opts->embeddings,
                                  "Two precomputed embeddings files of --data (as embed writes them; give twice)")
                      ->expected(1)
                      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                      ->check(CLI::ExistingFile);
    models->excludes(files);
    cmd->add_option("--label-level", opts->labelLevel, "Label level for nested folders (0 = top, -1 = deepest)")
        ->capture_default_str();
    cmd->add_option("-k", opts->k, "Neighbours per image")->check(CLI::Range(1, 1000))->capture_default_str();
    cmd->add_option("--top", opts->top, "Images listed in the table (--json lists every changed one)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    addInferenceFlags(cmd, opts->batch, opts->precision);
    cmd->add_flag("--json", opts->json, "One JSON object on stdout");
    cmd->callback([opts, cmd, &ctx] {
        const std::filesystem::path root(opts->data);
        if (!std::filesystem::is_directory(root))
            throw core::Error(root, "not a folder");
        const auto& names = opts->models.empty() ? opts->embeddings : opts->models;
        if (names.size() != 2)
            throw UsageError("compare needs two models (--model A --model B) or two embeddings files "
                             "(--embeddings A.npy --embeddings B.npy); got " +
                             std::to_string(names.size()));
        core::CancelToken& token = ctx.cancelToken();
        ProgressPrinter printer(false); // --json prints one object: progress only as a bar on a terminal

        EmbeddedRows a, b;
        if (!opts->embeddings.empty()) {
            const auto level = cmd->count("--label-level") > 0 ? std::optional<int>(opts->labelLevel) : std::nullopt;
            a = loadEmbeddingRows(opts->embeddings[0], level);
            b = loadEmbeddingRows(opts->embeddings[1], level);
        } else {
            const auto ds = scanForEmbedding(root, token);
            a = embedRows(opts->models[0], ds, opts->labelLevel, opts->batch, opts->precision, printer, token);
            b = embedRows(opts->models[1], ds, opts->labelLevel, opts->batch, opts->precision, printer, token);
        }
        // Rows matched by path: two files may list the images in another order or skip others.
        const auto match = core::analysis::matchRowsByPath(a.rows, b.rows);
        std::vector<std::int64_t> rowsA, rowsB;
        for (std::size_t i = 0; i < match.size(); ++i)
            if (match[i] >= 0) {
                rowsA.push_back(static_cast<std::int64_t>(i));
                rowsB.push_back(match[i]);
            }
        const auto common = static_cast<std::int64_t>(rowsA.size());
        if (common < a.rows.size() || common < b.rows.size())
            std::cerr << "warning: " << a.rows.size() - common << " image(s) only in A and " << b.rows.size() - common
                      << " only in B; comparing the " << common << " in both\n";
        if (common < 2)
            throw core::Error(root, "fewer than two images embedded by both; nothing to compare");
        core::io::RowTable rows;
        rows.columns = a.rows.columns;
        for (auto r : rowsA)
            rows.rows.push_back(a.rows.rows[static_cast<std::size_t>(r)]);
        const auto ea = core::analysis::pickRows(a.embeddings, rowsA),
                   eb = core::analysis::pickRows(b.embeddings, rowsB);

        // The maps: each embedding's first two principal components (as `project --method pca`).
        const auto mapA = core::analysis::pca(ea, {}, {}, &token), mapB = core::analysis::pca(eb, {}, {}, &token);
        core::analysis::CompareOptions co;
        co.k = opts->k;
        co.mapA = &mapA;
        co.mapB = &mapB;
        auto rep = core::analysis::compareEmbeddings(ea, eb, rows, co, printer.fn(), &token);
        printer.breakLine();
        auto path = [&](std::int64_t r) -> const std::string& { return rows.value(r, "path"); };
        auto label = [&](std::int64_t r) -> const std::string& { return rows.value(r, "label"); };
        const double residual = rep.procrustes ? rep.procrustes->residual : 0.0;

        if (opts->json) {
            nlohmann::json j;
            j["k"] = rep.k;
            j["images"] = common;
            j["a"] = {{"source", a.source}, {"dims", ea.cols}};
            j["b"] = {{"source", b.source}, {"dims", eb.cols}};
            j["mean_overlap"] = rep.meanOverlap;
            j["per_class"] = nlohmann::json::object();
            for (const auto& [l, v] : rep.perClassOverlap)
                j["per_class"][l] = v;
            j["changed"] = nlohmann::json::array();
            for (const auto& ch : rep.changed) {
                if (ch.overlap >= 1.0f)
                    break;
                nlohmann::json onlyA = nlohmann::json::array(), onlyB = nlohmann::json::array();
                for (auto r : ch.onlyA)
                    onlyA.push_back(path(r));
                for (auto r : ch.onlyB)
                    onlyB.push_back(path(r));
                j["changed"].push_back({{"path", path(ch.row)},
                                        {"label", label(ch.row)},
                                        {"overlap", ch.overlap},
                                        {"only_a", onlyA},
                                        {"only_b", onlyB}});
            }
            j["procrustes_residual"] = residual;
            j["maps"] = "pca";
            j["seconds"] = rep.seconds;
            std::cout << j.dump(2) << '\n';
            ctx.exitCode = ExitCode::Done;
            return;
        }

        std::cout << "Compared on " << root.string() << ": " << common << " images, k = " << rep.k
                  << "\n  A: " << a.source << " (" << ea.cols << " dimensions)\n  B: " << b.source << " (" << eb.cols
                  << " dimensions)\n";
        std::cout << "\nMean neighbourhood overlap: " << fixed(rep.meanOverlap, 3) << " (share of each image's "
                  << rep.k << " nearest neighbours that both models agree on)\n";
        if (!rep.perClassOverlap.empty()) {
            std::cout << "Per class:\n";
            for (const auto& [l, v] : rep.perClassOverlap)
                std::cout << "  " << fixed(v, 3) << "  " << (l.empty() ? "(unlabelled)" : l) << '\n';
        }
        std::cout << "Procrustes residual of the PCA maps: " << fixed(residual, 4)
                  << " (0 = B's map is A's up to rotation, reflection and scale; 1 = unrelated)\n";
        const auto changed = static_cast<std::size_t>(
            std::count_if(rep.changed.begin(), rep.changed.end(), [](const auto& c) { return c.overlap < 1.0f; }));
        std::cout << "\nMost changed neighbourhoods: " << changed << " image(s) with a neighbour in only one model\n";
        const auto top = static_cast<std::size_t>(opts->top);
        auto names3 = [&](const std::vector<std::int64_t>& v) {
            std::string s;
            for (std::size_t i = 0; i < v.size() && i < 3; ++i)
                s += (i ? ", " : "") + path(v[i]);
            return v.size() > 3 ? s + ", ..." : s;
        };
        if (changed > 0)
            std::cout << "  overlap  path [label]\n";
        for (std::size_t i = 0; i < changed && i < top; ++i) {
            const auto& ch = rep.changed[i];
            std::cout << "  " << fixed(ch.overlap, 2) << "     " << path(ch.row) << " [" << label(ch.row) << "]\n"
                      << "           only A: " << names3(ch.onlyA) << "\n           only B: " << names3(ch.onlyB)
                      << '\n';
        }
        if (changed > top)
            std::cout << "  ... and " << changed - top << " more (--top N, or --json for all)\n";
        ctx.exitCode = ExitCode::Done;
    });
}

} // namespace vitrine::cli

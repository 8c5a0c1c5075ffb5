// vitrine-cli merge --out OUT SHARD...: joins the outputs of `embed --shard I/N` into the file
// one process would have written (rows in the data set's order), after checking that every
// shard of the same run is there exactly once and that they agree on the model, its
// preprocessing, the precision, the label level and the file list (core/data/shard.h).

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <numeric>

#include "app/vitrine-cli/commands.h"
#include "core/common/error.h"
#include "core/common/files.h"
#include "core/data/shard.h"
#include "core/io/atomic_file.h"
#include "core/io/embedding_set.h"
#include "core/io/embedding_stream.h"

namespace vitrine::cli {

void addMergeCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        std::string out;
        std::vector<std::string> shards;
        bool json = false;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("merge", "Join the outputs of `embed --shard I/N` into one embeddings file");
    cmd->add_option("--out", opts->out, "Output file: .npy, .csv or .safetensors (+ rows.tsv)")->required();
    cmd->add_option("shards", opts->shards, "The shards' outputs (each with its .rows.tsv and .shard.json)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_flag("--json", opts->json, "A JSON summary on stdout");
    cmd->callback([opts, &ctx] {
        namespace fs = std::filesystem;
        struct Shard {
            fs::path file;
            nlohmann::json info;
            core::io::EmbeddingSet set;
        };
        std::vector<Shard> shards;
        for (const auto& name : opts->shards) {
            Shard s;
            s.file = name;
            const auto sidecar = core::data::shardSidecarPath(s.file);
            std::error_code ec;
            if (!fs::exists(sidecar, ec))
                throw core::Error(s.file, "has no " + sidecar.filename().string() +
                                              ": not written by `vitrine-cli embed --shard I/N`");
            try {
                s.info = nlohmann::json::parse(core::readFile(sidecar, 1 << 24));
            } catch (const nlohmann::json::exception& e) {
                throw core::Error(sidecar, std::string("is not valid JSON: ") + e.what());
            }
            s.set = core::io::loadEmbeddingSet(s.file);
            shards.push_back(std::move(s));
        }
        // They must be one run's shards: the same N, model, preprocessing, precision, label
        // level and file list, each index once.
        const auto& first = shards.front();
        const int n = first.info.value("of", 0);
        for (const auto& s : shards) {
            for (const char* key : {"of", "model", "config", "precision", "label_level", "file_list"}) {
                if (s.info.value(key, nlohmann::json()) != first.info.value(key, nlohmann::json())) {
                    const std::string hint =
                        std::string(key) == "precision"
                            ? " (the machines chose different precisions: run every shard with the same --precision, "
                              "e.g. fp32)"
                        : std::string(key) == "file_list" ? " (the data set changed between the shards' runs)"
                                                          : "";
                    throw core::Error(s.file, std::string("is not from the same run as ") + first.file.string() +
                                                  ": its " + key + " differs" + hint);
                }
            }
            if (s.set.embeddings.cols != first.set.embeddings.cols && s.set.embeddings.rows > 0 &&
                first.set.embeddings.rows > 0)
                throw core::Error(s.file, "has embeddings of another width than " + first.file.string());
        }
        std::vector<int> seen(static_cast<std::size_t>(std::max(n, 0)), 0);
        for (const auto& s : shards) {
            const int i = s.info.value("shard", -1);
            if (i < 0 || i >= n)
                throw core::Error(s.file, "has a shard index outside 0.." + std::to_string(n - 1));
            if (seen[std::size_t(i)]++)
                throw core::Error(s.file, "is shard " + std::to_string(i) + " again (given twice)");
        }
        std::string missing;
        for (int i = 0; i < n; ++i)
            if (!seen[std::size_t(i)])
                missing += (missing.empty() ? "" : ", ") + std::to_string(i);
        if (!missing.empty())
            throw core::Error("merge: shard(s) " + missing + " of " + std::to_string(n) +
                              " are missing; embed them with --shard I/" + std::to_string(n) + " and merge again");

        // Every row, in the data set's order (relative paths sorted, as embed writes them).
        struct Ref {
            std::size_t shard;
            std::int64_t row;
            const std::string* path;
        };
        std::vector<Ref> refs;
        std::int64_t dim = 0;
        for (std::size_t k = 0; k < shards.size(); ++k) {
            const auto& set = shards[k].set;
            dim = std::max(dim, set.embeddings.cols);
            const int pathColumn = set.rows.column("path");
            for (std::int64_t r = 0; r < set.embeddings.rows; ++r)
                refs.push_back({k, r, &set.rows.rows[std::size_t(r)][std::size_t(std::max(pathColumn, 0))]});
        }
        std::sort(refs.begin(), refs.end(), [](const Ref& a, const Ref& b) { return *a.path < *b.path; });
        for (std::size_t i = 1; i < refs.size(); ++i)
            if (*refs[i].path == *refs[i - 1].path)
                throw core::Error("merge: " + *refs[i].path + " is in two shards");
        const fs::path out(opts->out);
        if (!core::io::EmbeddingStreamWriter::supports(out))
            throw UsageError("--out " + out.string() + ": unsupported output type '" + out.extension().string() +
                             "' (use .npy, .csv or .safetensors)");
        core::io::EmbeddingStreamWriter writer(out, int(dim), refs.size(),
                                               {{"model", first.info.value("model", std::string())},
                                                {"config", first.info.value("config", nlohmann::json()).dump()},
                                                {"precision", first.info.value("precision", std::string())}});
        for (const auto& ref : refs) {
            const auto& set = shards[ref.shard].set;
            writer.append(set.embeddings.row(ref.row), {*ref.path, set.rows.value(ref.row, "label")});
        }
        writer.commit();
        const std::size_t files = first.info.value("files", std::size_t(0));
        if (opts->json)
            std::cout
                << nlohmann::json{{"out", out.string()}, {"rows", refs.size()}, {"files", files}, {"shards", n}}.dump()
                << '\n';
        std::cerr << "merged " << n << " shards: " << refs.size() << " rows of " << files << " files -> "
                  << out.string()
                  << (refs.size() < files ? " (" + std::to_string(files - refs.size()) + " could not be embedded)" : "")
                  << '\n';
        ctx.exitCode = ExitCode::Done;
    });
}

} // namespace vitrine::cli

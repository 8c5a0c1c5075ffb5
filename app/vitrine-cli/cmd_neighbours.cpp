// vitrine-cli neighbours --embeddings FILE --query ROW -k N [--metric cosine|euclidean]:
// one line per neighbour: rank, row, path, label, distance (tab-separated).
#include <charconv>
#include <iomanip>
#include <iostream>

#include "app/vitrine-cli/commands.h"
#include "app/vitrine-cli/progress.h"
#include "core/analysis/neighbours.h"
#include "core/common/error.h"
#include "core/io/embedding_set.h"

namespace vitrine::cli {

core::analysis::Metric parseMetric(const std::string& name) {
    if (name == "cosine")
        return core::analysis::Metric::Cosine;
    if (name == "euclidean")
        return core::analysis::Metric::Euclidean;
    throw UsageError("unknown metric '" + name + "'; use cosine or euclidean");
}

void addNeighboursCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        std::string embeddings, query, metric = "cosine";
        int k = 10;
        bool exact = false, header = false;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("neighbours", "Nearest neighbours of a row of an embeddings file");
    cmd->alias("neighbors");
    cmd->add_option("--embeddings", opts->embeddings, "Embeddings file (.npy/.safetensors/.csv with its .rows.tsv)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--query", opts->query, "Row index to query (0-based)")->required();
    cmd->add_option("-k", opts->k, "Number of neighbours")->check(CLI::PositiveNumber);
    cmd->add_option("--metric", opts->metric, "cosine or euclidean")->check(CLI::IsMember({"cosine", "euclidean"}));
    cmd->add_flag("--exact", opts->exact,
                  "Exact search even for large sets (default: HNSW above 20,000 rows, FAISS IVF above 200,000, "
                  "saved beside the embeddings as FILE.faiss and reused)");
    cmd->add_flag("--header", opts->header, "Print a header line first");
    cmd->callback([opts, &ctx] {
        // Memory-mapped when it is a float32 .npy: a 1.5 GB file is not read into RAM first.
        auto set = core::io::openEmbeddingSet(opts->embeddings);
        std::int64_t row = -1;
        const auto& q = opts->query;
        auto [p, ec] = std::from_chars(q.data(), q.data() + q.size(), row);
        if (ec != std::errc() || p != q.data() + q.size())
            throw core::Error(q, "querying by image needs the model (--model), which this build does not have yet; "
                                 "pass a row index instead");
        if (row < 0 || row >= set.embeddings.rows)
            throw core::Error(opts->embeddings, "query row " + q + " is out of range: the file has " +
                                                    std::to_string(set.embeddings.rows) + " rows (0-based)");
        core::analysis::NeighbourOptions no;
        no.metric = parseMetric(opts->metric);
        no.forceExact = opts->exact;
        no.embeddingsFile = opts->embeddings; // the FAISS index (large sets) is kept beside it
        ProgressPrinter printer(false);       // building an index over a large set takes a while
        core::analysis::NeighbourIndex index(set.embeddings, no, printer.fn(), &ctx.cancelToken());
        printer.breakLine();
        if (index.indexFileStatus() == core::analysis::IndexFileStatus::SaveFailed)
            std::cerr << "warning: the search index was not saved, so the next run builds it again: "
                      << index.indexFileMessage() << '\n';
        auto hits = index.queryRow(row, opts->k);
        if (opts->header)
            std::cout << "rank\trow\tpath\tlabel\tdistance\n";
        std::cout << std::setprecision(6);
        for (std::size_t r = 0; r < hits.size(); ++r)
            std::cout << r + 1 << '\t' << hits[r].row << '\t'
                      << core::io::escapeTsvField(set.rows.value(hits[r].row, "path")) << '\t'
                      << core::io::escapeTsvField(set.rows.value(hits[r].row, "label")) << '\t' << hits[r].distance
                      << '\n';
        ctx.exitCode = ExitCode::Done;
    });
}

} // namespace vitrine::cli

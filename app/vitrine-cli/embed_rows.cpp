#include "app/vitrine-cli/embed_rows.h"

#include <cstdio>
#include <iostream>

#include "core/common/precision.h"
#include "core/model/checkpoint.h"
#include "core/model/embedder.h"

namespace vitrine::cli {

std::string labelFromPath(const std::string& path, int level) {
    core::data::Sample s;
    const std::filesystem::path p(path);
    for (const auto& part : p.parent_path())
        if (part != "/" && !part.empty())
            s.labels.push_back(part.string());
    return s.labels.empty() ? std::string() : core::data::Dataset::labelAt(s, level);
}

core::data::Dataset scanForEmbedding(const std::filesystem::path& root, const core::CancelToken& token) {
    core::data::ScanOptions so;
    so.verifyImages = false; // the embedder decodes every file and reports failures
    auto ds = core::data::scanFolder(root, so, {}, &token);
    for (const auto& s : ds.skipped)
        std::cerr << "skipped " << s.path << ": " << s.reason << '\n';
    return ds;
}

EmbeddedRows embedRows(const std::string& model, const core::data::Dataset& ds, int labelLevel, int batch,
                       const std::string& precision, ProgressPrinter& printer, const core::CancelToken& token) {
    auto loaded = core::model::loadModel(model);
    for (const auto& w : loaded.warnings)
        std::cerr << "warning: " << w << '\n';
    EmbeddedRows out;
    out.source = loaded.source;
    out.rows.columns = {"path", "label"};
    core::model::EmbedOptions eo;
    eo.batchSize = batch;
    eo.precision = core::parsePrecision(precision);
    std::vector<float> data;
    int dim = 0;
    auto summary = core::model::embedDataset(
        *loaded.model, ds, eo,
        [&](const core::model::EmbeddedBatch& b) {
            if (!b.skipped.empty())
                printer.breakLine();
            for (const auto& s : b.skipped)
                std::cerr << "skipped " << s.path << ": " << s.reason << '\n';
            dim = b.dim;
            data.insert(data.end(), b.rows, b.rows + b.indices.size() * static_cast<std::size_t>(b.dim));
            for (auto i : b.indices) {
                const auto& s = ds.samples[i];
                out.rows.rows.push_back(
                    {s.relativePath, s.labels.empty() ? std::string() : core::data::Dataset::labelAt(s, labelLevel)});
            }
        },
        printer.fn(), &token);
    out.embeddings.rows = out.rows.size();
    out.embeddings.cols = dim;
    out.embeddings.data = std::move(data);
    printer.breakLine();
    std::fprintf(stderr, "embedded %zu images with %s in %.1f s\n", summary.embedded, out.source.c_str(),
                 summary.seconds);
    return out;
}

EmbeddedRows loadEmbeddingRows(const std::string& file, std::optional<int> labelLevel) {
    auto set = core::io::loadEmbeddingSet(file);
    EmbeddedRows out{std::move(set.embeddings), std::move(set.rows), file};
    const int pc = out.rows.column("path"), lc = out.rows.column("label");
    if (labelLevel && pc >= 0 && lc >= 0)
        for (auto& r : out.rows.rows)
            if (auto l = labelFromPath(r[static_cast<std::size_t>(pc)], *labelLevel); !l.empty())
                r[static_cast<std::size_t>(lc)] = l;
    return out;
}

} // namespace vitrine::cli

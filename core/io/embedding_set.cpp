#include "core/io/embedding_set.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/io/csv.h"
#include "core/io/npy.h"
#include "core/io/safetensors_format.h"

namespace vitrine::core::io {

namespace fs = std::filesystem;

namespace {

RowTable indexRows(std::int64_t n) {
    RowTable t;
    t.columns = {"path", "label"};
    for (std::int64_t i = 0; i < n; ++i)
        t.rows.push_back({std::to_string(i), ""});
    return t;
}

RowTable rowsFromMetadataOrSidecar(const fs::path& file, const std::map<std::string, std::string>& meta,
                                   std::int64_t n) {
    const fs::path sidecar = rowsSidecarPath(file);
    if (fs::exists(sidecar))
        return readRowTable(sidecar);
    if (auto it = meta.find("rows"); it != meta.end()) {
        try {
            auto j = nlohmann::json::parse(it->second);
            RowTable t;
            t.columns = j.at("columns").get<std::vector<std::string>>();
            t.rows = j.at("rows").get<std::vector<std::vector<std::string>>>();
            for (std::size_t i = 0; i < t.rows.size(); ++i)
                if (t.rows[i].size() != t.columns.size())
                    throw Error(file, "malformed 'rows' metadata: row " + std::to_string(i) + " has " +
                                          std::to_string(t.rows[i].size()) + " fields, there are " +
                                          std::to_string(t.columns.size()) + " columns");
            return t;
        } catch (const Error&) {
            throw;
        } catch (const std::exception& e) {
            throw Error(file, std::string("malformed 'rows' metadata: ") + e.what());
        }
    }
    return indexRows(n);
}

float parseFloat(const std::string& s, const fs::path& file, std::size_t line) {
    float v = 0.0f;
    const char* b = s.data();
    while (b < s.data() + s.size() && *b == ' ')
        ++b;
    auto [p, ec] = std::from_chars(b, s.data() + s.size(), v);
    if (ec != std::errc() || p == b)
        throw Error(file, "record " + std::to_string(line) + ": '" + s + "' is not a number");
    return v;
}

EmbeddingSet loadCsv(const fs::path& file) {
    auto records = parseCsv(readFile(file), file);
    if (records.empty())
        throw Error(file, "empty CSV (no header)");
    // `vitrine-cli embed` writes bare numbers (no header) with the rows in the sidecar.
    const bool headerless = std::all_of(records.front().begin(), records.front().end(), [](const std::string& f) {
        float v;
        const char* b = f.data();
        while (b < f.data() + f.size() && *b == ' ')
            ++b;
        auto [p, ec] = std::from_chars(b, f.data() + f.size(), v);
        return ec == std::errc() && p == f.data() + f.size();
    });
    if (headerless) {
        EmbeddingSet set;
        const auto cols = static_cast<std::int64_t>(records.front().size());
        set.embeddings = core::Matrix(static_cast<std::int64_t>(records.size()), cols);
        for (std::size_t i = 0; i < records.size(); ++i) {
            if (static_cast<std::int64_t>(records[i].size()) != cols)
                throw Error(file, "record " + std::to_string(i + 1) + " has " + std::to_string(records[i].size()) +
                                      " values, the first has " + std::to_string(cols));
            for (std::int64_t j = 0; j < cols; ++j)
                set.embeddings(static_cast<std::int64_t>(i), j) = parseFloat(records[i][static_cast<std::size_t>(j)],
                                                                             file, i + 1);
        }
        set.rows = rowsFromMetadataOrSidecar(file, {}, set.embeddings.rows);
        return set;
    }
    const auto& header = records.front();
    // "e0", "e1", ...: checked by hand, as std::regex recurses per character of a field.
    auto isDimColumn = [](const std::string& h) {
        return h.size() >= 2 && h[0] == 'e' &&
               std::all_of(h.begin() + 1, h.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    };
    std::vector<int> dims, meta;
    int xCol = -1, yCol = -1;
    for (std::size_t c = 0; c < header.size(); ++c) {
        if (isDimColumn(header[c]))
            dims.push_back(static_cast<int>(c));
        else if (header[c] == "x")
            xCol = static_cast<int>(c);
        else if (header[c] == "y")
            yCol = static_cast<int>(c);
        else
            meta.push_back(static_cast<int>(c));
    }
    if (dims.empty())
        throw Error(file, "CSV header has no embedding columns (expected e0, e1, ...)");
    EmbeddingSet set;
    const auto n = static_cast<std::int64_t>(records.size() - 1);
    set.embeddings = core::Matrix(n, static_cast<std::int64_t>(dims.size()));
    if (xCol >= 0 && yCol >= 0)
        set.coords = core::Matrix(n, 2);
    for (int c : meta)
        set.rows.columns.push_back(header[static_cast<std::size_t>(c)]);
    for (std::int64_t i = 0; i < n; ++i) {
        const auto& r = records[static_cast<std::size_t>(i + 1)];
        if (r.size() != header.size())
            throw Error(file, "record " + std::to_string(i + 2) + " has " + std::to_string(r.size()) +
                                  " fields, the header " + std::to_string(header.size()));
        for (std::size_t d = 0; d < dims.size(); ++d)
            set.embeddings(i, static_cast<std::int64_t>(d)) = parseFloat(r[static_cast<std::size_t>(dims[d])], file,
                                                                         i + 2);
        if (!set.coords.empty()) {
            set.coords(i, 0) = parseFloat(r[static_cast<std::size_t>(xCol)], file, i + 2);
            set.coords(i, 1) = parseFloat(r[static_cast<std::size_t>(yCol)], file, i + 2);
        }
        std::vector<std::string> row;
        for (int c : meta)
            row.push_back(r[static_cast<std::size_t>(c)]);
        set.rows.rows.push_back(std::move(row));
    }
    if (set.rows.column("path") < 0) {
        auto idx = indexRows(n);
        set.rows.columns.insert(set.rows.columns.begin(), "path");
        for (std::int64_t i = 0; i < n; ++i)
            set.rows.rows[static_cast<std::size_t>(i)].insert(set.rows.rows[static_cast<std::size_t>(i)].begin(),
                                                              idx.rows[static_cast<std::size_t>(i)][0]);
    }
    return set;
}

/// The row table must list every embedding; gives it a "label" column if it has none.
void checkRows(const fs::path& file, RowTable& rows, std::int64_t n) {
    if (rows.size() != n)
        throw Error(file, "has " + std::to_string(n) + " embeddings but its rows sidecar " +
                              rowsSidecarPath(file).filename().string() + " lists " + std::to_string(rows.size()) +
                              " rows; re-run the embed step so they match");
    if (rows.column("label") < 0) {
        rows.columns.push_back("label");
        for (auto& r : rows.rows)
            r.emplace_back();
    }
}

} // namespace

EmbeddingSet loadEmbeddingSet(const fs::path& file) {
    std::string ext = file.extension().string();
    for (char& c : ext)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EmbeddingSet set;
    if (ext == ".npy") {
        set.embeddings = readNpyMatrix(file);
        set.rows = rowsFromMetadataOrSidecar(file, {}, set.embeddings.rows);
    } else if (ext == ".safetensors") {
        std::map<std::string, std::string> meta;
        auto tensors = readSafetensorsMatrices(file, &meta);
        if (auto it = tensors.find("embeddings"); it != tensors.end()) {
            set.embeddings = std::move(it->second);
        } else {
            int twoD = 0;
            for (auto& [name, m] : tensors)
                if (m.cols > 1 && name != "coords") {
                    set.embeddings = m;
                    ++twoD;
                }
            if (twoD != 1)
                throw Error(file, "no tensor named 'embeddings' and " + std::to_string(twoD) +
                                      " candidate 2-D float tensors; name the embeddings tensor 'embeddings'");
        }
        if (auto it = tensors.find("coords");
            it != tensors.end() && it->second.cols == 2 && it->second.rows == set.embeddings.rows)
            set.coords = std::move(it->second);
        set.rows = rowsFromMetadataOrSidecar(file, meta, set.embeddings.rows);
    } else if (ext == ".csv") {
        set = loadCsv(file);
    } else {
        throw Error(file, "unknown embeddings format '" + ext + "'; expected .npy, .safetensors or .csv");
    }
    checkRows(file, set.rows, set.embeddings.rows);
    return set;
}

MappedEmbeddingSet openEmbeddingSet(const fs::path& file) {
    std::string ext = file.extension().string();
    for (char& c : ext)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    MappedEmbeddingSet out;
    if (ext == ".npy") {
        out.embeddings = mapNpyMatrix(file);
        out.rows = rowsFromMetadataOrSidecar(file, {}, out.embeddings.rows);
        checkRows(file, out.rows, out.embeddings.rows);
        return out;
    }
    auto set = loadEmbeddingSet(file);
    out.rows = std::move(set.rows);
    out.embeddings = core::MatrixView::owning(std::move(set.embeddings));
    return out;
}

} // namespace vitrine::core::io

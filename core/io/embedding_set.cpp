#include "core/io/embedding_set.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/io/atomic_file.h"
#include "core/io/npy.h"

namespace vitrine::core::io {

namespace fs = std::filesystem;

int RowTable::column(std::string_view name) const {
    for (std::size_t i = 0; i < columns.size(); ++i)
        if (columns[i] == name)
            return static_cast<int>(i);
    return -1;
}

const std::string& RowTable::value(std::int64_t row, std::string_view name) const {
    static const std::string kEmpty;
    const int c = column(name);
    return c < 0 ? kEmpty : rows[static_cast<std::size_t>(row)][static_cast<std::size_t>(c)];
}

std::string escapeTsvField(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (char ch : field) {
        switch (ch) {
        case '\\': out += "\\\\"; break;
        case '\t': out += "\\t"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        default: out += ch;
        }
    }
    return out;
}

std::string unescapeTsvField(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] != '\\' || i + 1 == field.size()) {
            out += field[i];
            continue;
        }
        const char n = field[++i];
        out += n == 't' ? '\t' : n == 'n' ? '\n' : n == 'r' ? '\r' : n; // "\\" -> '\', unknown -> as is
    }
    return out;
}

std::string csvField(std::string_view field) {
    const bool quote = field.find_first_of(",\"\r\n\t") != std::string_view::npos ||
                       (!field.empty() && (field.front() == ' ' || field.back() == ' '));
    if (!quote)
        return std::string(field);
    std::string out = "\"";
    for (char ch : field) {
        if (ch == '"')
            out += '"';
        out += ch;
    }
    out += '"';
    return out;
}

std::vector<std::vector<std::string>> parseCsv(std::string_view text, const fs::path& name) {
    std::vector<std::vector<std::string>> records;
    std::vector<std::string> record;
    std::string field;
    bool inQuotes = false, fieldStarted = false;
    std::size_t line = 1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        if (inQuotes) {
            if (ch == '"') {
                if (i + 1 < text.size() && text[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else {
                    inQuotes = false;
                }
            } else {
                if (ch == '\n')
                    ++line;
                field += ch;
            }
            continue;
        }
        if (ch == '"' && field.empty()) {
            inQuotes = fieldStarted = true;
        } else if (ch == ',') {
            record.push_back(std::move(field));
            field.clear();
            fieldStarted = true;
        } else if (ch == '\n' || ch == '\r') {
            if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
                ++i;
            ++line;
            if (fieldStarted || !field.empty() || !record.empty()) {
                record.push_back(std::move(field));
                records.push_back(std::move(record));
            }
            record.clear();
            field.clear();
            fieldStarted = false;
        } else {
            field += ch;
            fieldStarted = true;
        }
    }
    if (inQuotes)
        throw Error(name, "unterminated quoted field at line " + std::to_string(line));
    if (fieldStarted || !field.empty() || !record.empty()) {
        record.push_back(std::move(field));
        records.push_back(std::move(record));
    }
    return records;
}

fs::path rowsSidecarPath(const fs::path& embeddingsFile) {
    fs::path p = embeddingsFile;
    p += ".rows.tsv";
    return p;
}

namespace {

std::vector<std::string_view> splitTabs(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const auto tab = line.find('\t', start);
        out.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
        if (tab == std::string_view::npos)
            return out;
        start = tab + 1;
    }
}

} // namespace

RowTable parseRowTable(std::string_view text, const fs::path& name) {
    RowTable table;
    std::size_t pos = 0, line = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view l = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line;
        if (!l.empty() && l.back() == '\r')
            l.remove_suffix(1);
        auto fields = splitTabs(l);
        if (line == 1) {
            for (auto f : fields)
                table.columns.push_back(unescapeTsvField(f));
            if (table.column("path") < 0)
                throw Error(name, "rows sidecar has no 'path' column in its header (got '" + std::string(l) +
                                      "'); expected a header like 'path<TAB>label'");
            continue;
        }
        if (l.empty() && pos >= text.size())
            break;
        if (fields.size() != table.columns.size())
            throw Error(name, "line " + std::to_string(line) + " has " + std::to_string(fields.size()) +
                                  " fields, the header has " + std::to_string(table.columns.size()));
        std::vector<std::string> row;
        row.reserve(fields.size());
        for (auto f : fields)
            row.push_back(unescapeTsvField(f));
        table.rows.push_back(std::move(row));
    }
    if (table.columns.empty())
        throw Error(name, "empty rows sidecar (no header)");
    return table;
}

RowTable readRowTable(const fs::path& file) { return parseRowTable(readFile(file), file); }

std::string formatRowTable(const RowTable& table) {
    std::string out;
    auto line = [&](const std::vector<std::string>& fields) {
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (i)
                out += '\t';
            out += escapeTsvField(fields[i]);
        }
        out += '\n';
    };
    line(table.columns);
    for (const auto& r : table.rows)
        line(r);
    return out;
}

void writeRowTable(const fs::path& file, const RowTable& table) { writeFileAtomically(file, formatRowTable(table)); }

std::string formatSafetensors(const std::vector<NamedMatrix>& tensors, const std::map<std::string, std::string>& metadata) {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (const auto& t : tensors) {
        const std::uint64_t bytes = t.matrix->data.size() * sizeof(float);
        header[t.name] = {{"dtype", "F32"}, {"shape", {t.matrix->rows, t.matrix->cols}}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    std::string out(8, '\0');
    const std::uint64_t len = h.size();
    for (int i = 0; i < 8; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xff);
    out += h;
    out.reserve(out.size() + offset);
    // nlohmann sorts keys, but offsets follow our order, which is what the data must follow.
    for (const auto& t : tensors)
        out.append(reinterpret_cast<const char*>(t.matrix->data.data()), t.matrix->data.size() * sizeof(float));
    return out;
}

std::map<std::string, core::Matrix> readSafetensorsMatrices(const fs::path& file,
                                                            std::map<std::string, std::string>* metadata) {
    return parseSafetensorsMatrices(readFile(file), file, metadata);
}

std::map<std::string, core::Matrix> parseSafetensorsMatrices(std::string_view bytes, const fs::path& file,
                                                             std::map<std::string, std::string>* metadata) {
    if (bytes.size() < 8)
        throw Error(file, "not a safetensors file (shorter than its 8-byte header length)");
    std::uint64_t len = 0;
    for (int i = 0; i < 8; ++i)
        len |= std::uint64_t(static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)])) << (8 * i);
    if (len > bytes.size() - 8 || len > (100ull << 20))
        throw Error(file, "safetensors header length " + std::to_string(len) + " exceeds the file");
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(bytes.substr(8, len));
    } catch (const std::exception& e) {
        throw Error(file, std::string("safetensors header is not valid JSON: ") + e.what());
    }
    if (!header.is_object())
        throw Error(file, "safetensors header is not a JSON object");
    const std::size_t dataStart = 8 + len;
    const std::size_t dataSize = bytes.size() - dataStart;
    std::map<std::string, core::Matrix> out;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (metadata && it->is_object())
                for (auto m = it->begin(); m != it->end(); ++m)
                    if (m->is_string())
                        (*metadata)[m.key()] = m->get<std::string>();
            continue;
        }
        try {
            // Integers only: nlohmann converts a float like 1e300 to an integer type by a
            // plain cast, which is undefined behaviour (found by fuzz_safetensors_matrices).
            auto integers = [](const nlohmann::json& v) {
                return v.is_array() && std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_number_integer(); });
            };
            const auto dtype = it->at("dtype").get<std::string>();
            if (!integers(it->at("shape")) || !integers(it->at("data_offsets")))
                throw Error(file, "tensor '" + it.key() + "' has a shape or data offsets that are not integer lists");
            const auto shape = it->at("shape").get<std::vector<std::int64_t>>();
            const auto offs = it->at("data_offsets").get<std::vector<std::uint64_t>>();
            if (offs.size() != 2 || offs[0] > offs[1] || offs[1] > dataSize)
                throw Error(file, "tensor '" + it.key() + "' has data offsets outside the file");
            if ((dtype != "F32" && dtype != "F64") || shape.empty() || shape.size() > 2)
                continue;
            const std::int64_t rows = shape[0], cols = shape.size() == 2 ? shape[1] : 1;
            const std::uint64_t item = dtype == "F32" ? 4 : 8;
            // The byte range bounds a valid shape, so checking rows*cols against it first also
            // rules out the overflow (rows = 2^62, cols = 4 wrapped to 0 bytes before).
            const std::uint64_t span = (offs[1] - offs[0]) / item;
            // [N, 0] with N > 0 holds nothing but would make loaders build N row names.
            if (cols == 0 && rows > 0)
                throw Error(file, "tensor '" + it.key() + "' has " + std::to_string(rows) + " rows of zero width");
            if (rows < 0 || cols < 0 || (cols != 0 && static_cast<std::uint64_t>(rows) > span / static_cast<std::uint64_t>(cols)) ||
                static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols) * item != offs[1] - offs[0])
                throw Error(file, "tensor '" + it.key() + "' byte size does not match its shape");
            core::Matrix m(rows, cols);
            const char* src = bytes.data() + dataStart + offs[0];
            for (std::size_t i = 0; i < m.data.size(); ++i) {
                if (item == 4) {
                    std::memcpy(&m.data[i], src + 4 * i, 4);
                } else {
                    double d;
                    std::memcpy(&d, src + 8 * i, 8);
                    m.data[i] = static_cast<float>(d);
                }
            }
            out.emplace(it.key(), std::move(m));
        } catch (const nlohmann::json::exception& e) {
            throw Error(file, "malformed safetensors entry '" + it.key() + "': " + e.what());
        }
    }
    return out;
}

namespace {

RowTable indexRows(std::int64_t n) {
    RowTable t;
    t.columns = {"path", "label"};
    for (std::int64_t i = 0; i < n; ++i)
        t.rows.push_back({std::to_string(i), ""});
    return t;
}

RowTable rowsFromMetadataOrSidecar(const fs::path& file, const std::map<std::string, std::string>& meta, std::int64_t n) {
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
                set.embeddings(static_cast<std::int64_t>(i), j) = parseFloat(records[i][static_cast<std::size_t>(j)], file, i + 1);
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
            throw Error(file, "record " + std::to_string(i + 2) + " has " + std::to_string(r.size()) + " fields, the header " +
                                  std::to_string(header.size()));
        for (std::size_t d = 0; d < dims.size(); ++d)
            set.embeddings(i, static_cast<std::int64_t>(d)) = parseFloat(r[static_cast<std::size_t>(dims[d])], file, i + 2);
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
            set.rows.rows[static_cast<std::size_t>(i)].insert(set.rows.rows[static_cast<std::size_t>(i)].begin(), idx.rows[static_cast<std::size_t>(i)][0]);
    }
    return set;
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
        if (auto it = tensors.find("coords"); it != tensors.end() && it->second.cols == 2 &&
                                              it->second.rows == set.embeddings.rows)
            set.coords = std::move(it->second);
        set.rows = rowsFromMetadataOrSidecar(file, meta, set.embeddings.rows);
    } else if (ext == ".csv") {
        set = loadCsv(file);
    } else {
        throw Error(file, "unknown embeddings format '" + ext + "'; expected .npy, .safetensors or .csv");
    }
    if (set.rows.size() != set.embeddings.rows)
        throw Error(file, "has " + std::to_string(set.embeddings.rows) + " embeddings but its rows sidecar " +
                              rowsSidecarPath(file).filename().string() + " lists " + std::to_string(set.rows.size()) +
                              " rows; re-run the embed step so they match");
    if (set.rows.column("label") < 0) {
        set.rows.columns.push_back("label");
        for (auto& r : set.rows.rows)
            r.emplace_back();
    }
    return set;
}

} // namespace vitrine::core::io

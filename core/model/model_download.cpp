#include "core/model/model_download.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/io/atomic_file.h"
#include "core/model/model_catalogue.h"

namespace fs = std::filesystem;

namespace vitrine::core::model {

namespace {

std::string hex(const unsigned char* bytes, unsigned n) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (unsigned i = 0; i < n; ++i) {
        out.push_back(digits[bytes[i] >> 4]);
        out.push_back(digits[bytes[i] & 15]);
    }
    return out;
}

/// Incremental SHA-256 (OpenSSL's EVP).
class Sha256 {
public:
    Sha256() : m_ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
        if (!m_ctx || EVP_DigestInit_ex(m_ctx.get(), EVP_sha256(), nullptr) != 1)
            throw Error("SHA-256 is not available (OpenSSL)");
    }
    void add(const void* data, std::size_t n) { EVP_DigestUpdate(m_ctx.get(), data, n); }
    std::string finish() {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_DigestFinal_ex(m_ctx.get(), digest, &n);
        return hex(digest, n);
    }

private:
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> m_ctx;
};

void hashFileInto(Sha256& sha, const fs::path& file, std::int64_t bytes, const CancelToken* cancel) {
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw Error(file, "cannot be read");
    std::vector<char> buffer(1 << 20);
    std::int64_t left = bytes;
    while (left != 0) {
        if (cancel)
            cancel->check();
        const auto want = left < 0 ? std::int64_t(buffer.size())
                                   : std::min<std::int64_t>(left, std::int64_t(buffer.size()));
        in.read(buffer.data(), want);
        const auto got = in.gcount();
        if (got <= 0)
            break;
        sha.add(buffer.data(), std::size_t(got));
        if (left > 0)
            left -= got;
    }
    if (left > 0)
        throw Error(file, "ended before the bytes already downloaded");
}

std::string megabytes(std::int64_t bytes) {
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(1);
    out << double(bytes) / 1e6 << " MB";
    return out.str();
}

void curlGlobalInit() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
    std::FILE* out = nullptr;
    Sha256* sha = nullptr;
    std::int64_t written = 0; ///< this transfer's bytes
    std::int64_t offset = 0;  ///< bytes of the part before this transfer
    bool writeFailed = false;
    bool cancelled = false;
    const ProgressFn* progress = nullptr;
    const CancelToken* cancel = nullptr;
    std::chrono::steady_clock::time_point lastReport{};
};

size_t onData(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * count;
    if (std::fwrite(data, 1, n, t->out) != n) {
        t->writeFailed = true;
        return 0; // libcurl stops with CURLE_WRITE_ERROR
    }
    t->sha->add(data, n);
    t->written += std::int64_t(n);
    return n;
}

int onProgress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (t->cancel && t->cancel->cancelled()) {
        t->cancelled = true;
        return 1; // CURLE_ABORTED_BY_CALLBACK
    }
    const auto clock = std::chrono::steady_clock::now();
    if (t->progress && *t->progress && clock - t->lastReport >= std::chrono::milliseconds(100)) {
        t->lastReport = clock;
        report(*t->progress, t->offset + now, total > 0 ? t->offset + total : 0, StageKind::Downloading);
    }
    return 0;
}

struct PartInfo {
    std::string url;
    std::int64_t bytes = 0;
};

fs::path partPath(const fs::path& target) { return fs::path(target.string() + ".part"); }
fs::path partInfoPath(const fs::path& target) { return fs::path(target.string() + ".part.json"); }

void removePart(const fs::path& target) {
    std::error_code ec;
    fs::remove(partPath(target), ec);
    fs::remove(partInfoPath(target), ec);
}

/// The bytes of an earlier download of `url` kept in the part, or 0 (a part of another
/// URL, or none, is discarded).
std::int64_t resumableBytes(const fs::path& target, const std::string& url) {
    std::error_code ec;
    const auto part = partPath(target);
    if (!fs::is_regular_file(part, ec))
        return 0;
    try {
        const auto info = nlohmann::json::parse(readFile(partInfoPath(target), 1 << 16));
        if (info.value("url", std::string()) == url)
            return std::int64_t(fs::file_size(part, ec));
    } catch (const std::exception&) {
    }
    removePart(target);
    return 0;
}

nlohmann::json readPins(const fs::path& pinsFile) {
    std::error_code ec;
    if (!fs::exists(pinsFile, ec))
        return nlohmann::json::object();
    try {
        auto j = nlohmann::json::parse(readFile(pinsFile, 1 << 20));
        if (j.is_object())
            return j;
    } catch (const std::exception& e) {
        throw Error(pinsFile, std::string("cannot be read (") + e.what() + "); move it away to pin the hashes anew");
    }
    throw Error(pinsFile, "is not a JSON object; move it away to pin the hashes anew");
}

std::string utcNow() {
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

enum class Attempt { Done, RestartFromZero };

/// One HTTP transfer into the part, appending from `offset`.
Attempt transfer(const DownloadRequest& request, std::int64_t offset, Sha256& sha, const ProgressFn& progress,
                 const CancelToken* cancel) {
    curlGlobalInit();
    const auto part = partPath(request.target);
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(part.c_str(), offset > 0 ? "ab" : "wb"),
                                                        std::fclose);
    if (!out)
        throw Error(part, "cannot be written; check the folder's permissions and free space");
    io::writeFileAtomically(partInfoPath(request.target), nlohmann::json{{"url", request.url}}.dump());

    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl)
        throw Error("cannot start a download (libcurl)");
    Transfer t;
    t.out = out.get();
    t.sha = &sha;
    t.offset = offset;
    t.progress = &progress;
    t.cancel = cancel;
    char errorText[CURL_ERROR_SIZE] = {0};
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L); // Hugging Face answers with a redirect to its CDN
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vitrine/" VITRINE_VERSION);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    if (request.stallSeconds > 0) {
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, long(request.stallSeconds));
    }
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errorText);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onData);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, onProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    if (offset > 0)
        curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, curl_off_t(offset));

    const CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t expected = -1;
    curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected);
    const bool flushed = std::fflush(out.get()) == 0 && ::fsync(fileno(out.get())) == 0;
    out.reset();
    if (progress)
        report(progress, offset + t.written, expected > 0 ? offset + expected : 0, StageKind::Downloading);

    if (t.cancelled)
        throw Cancelled();
    if (t.writeFailed || (rc == CURLE_OK && !flushed))
        throw Error(part, "could not be written (disk full?); free some space and download again to resume");
    if (offset > 0 && (rc == CURLE_RANGE_ERROR || status == 416 || (rc == CURLE_OK && status == 200)))
        return Attempt::RestartFromZero; // the server would not resume this part
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
        removePart(request.target);
        throw Error(request.url, "the server answered HTTP " + std::to_string(status) +
                                     (status == 404 ? " (not found): the file has moved or the address is wrong"
                                                    : "; try again later"));
    }
    if (rc != CURLE_OK) {
        const std::int64_t have = offset + t.written;
        std::string what = errorText[0] ? errorText : curl_easy_strerror(rc);
        if (have > 0)
            throw Error(request.url, what + ", after " + megabytes(have) +
                                         (expected > 0 ? " of " + megabytes(offset + expected) : std::string()) +
                                         "; download again to resume from there");
        throw Error(request.url, what + "; check the network connection (or $VITRINE_MODEL_MIRROR) and try again");
    }
    return Attempt::Done;
}

} // namespace

const char* hashCheckName(HashCheck check) {
    switch (check) {
    case HashCheck::Published: return "published";
    case HashCheck::Prefix: return "published prefix";
    case HashCheck::Pinned: return "pinned";
    case HashCheck::FirstUse: return "pinned now (first use)";
    }
    return "";
}

std::string sha256OfFile(const fs::path& file, const CancelToken* cancel) {
    Sha256 sha;
    hashFileInto(sha, file, -1, cancel);
    return sha.finish();
}

DownloadOutcome downloadFile(const DownloadRequest& request, const ProgressFn& progress, const CancelToken* cancel) {
    if (request.target.empty() || request.url.empty())
        throw Error("a download needs a URL and a target file");
    std::error_code ec;
    fs::create_directories(request.target.parent_path().empty() ? fs::path(".") : request.target.parent_path(), ec);
    if (ec)
        throw Error(request.target.parent_path(), "cannot be created: " + ec.message());

    DownloadOutcome outcome;
    outcome.file = request.target;
    std::int64_t offset = resumableBytes(request.target, request.url);
    for (int attempt = 0;; ++attempt) {
        Sha256 sha;
        if (offset > 0)
            hashFileInto(sha, partPath(request.target), offset, cancel);
        outcome.resumedFrom = offset;
        if (transfer(request, offset, sha, progress, cancel) == Attempt::RestartFromZero && attempt == 0) {
            offset = 0;
            continue;
        }
        outcome.sha256 = sha.finish();
        break;
    }
    outcome.bytes = std::int64_t(fs::file_size(partPath(request.target), ec));

    // The hash decides whether the part becomes the file.
    const fs::path pinsFile = request.pinsFile.empty() ? request.target.parent_path() / "pins.json" : request.pinsFile;
    std::string expected = request.expectedSha256;
    std::optional<nlohmann::json> pins;
    if (expected.empty() && !request.pinKey.empty()) {
        pins = readPins(pinsFile);
        if (pins->contains(request.pinKey) && (*pins)[request.pinKey].contains("sha256"))
            expected = (*pins)[request.pinKey]["sha256"].get<std::string>();
    }
    if (!expected.empty()) {
        const bool full = expected.size() == 64;
        if (outcome.sha256.compare(0, expected.size(), expected) != 0) {
            removePart(request.target);
            const std::string whose =
                request.expectedSha256.empty()
                    ? "the one pinned at its first download (" + pinsFile.string() +
                          "); if the publisher changed the file on purpose, remove its entry there"
                    : std::string("the one its publisher gives");
            throw Error(request.url, "the downloaded file's SHA-256 " + outcome.sha256.substr(0, 16) + "… is not " +
                                         whose + " (" + expected.substr(0, 16) + "…); it was deleted");
        }
        outcome.check = request.expectedSha256.empty() ? HashCheck::Pinned
                        : full                         ? HashCheck::Published
                                                       : HashCheck::Prefix;
    } else {
        outcome.check = HashCheck::FirstUse;
    }
    fs::rename(partPath(request.target), request.target, ec);
    if (ec)
        throw Error(request.target, "could not be put in place: " + ec.message());
    fs::remove(partInfoPath(request.target), ec);
    if (outcome.check == HashCheck::FirstUse && !request.pinKey.empty()) {
        if (!pins)
            pins = readPins(pinsFile);
        (*pins)[request.pinKey] = {{"sha256", outcome.sha256},
                                   {"file", request.target.filename().string()},
                                   {"bytes", outcome.bytes},
                                   {"url", request.url},
                                   {"pinned", utcNow()}};
        io::writeFileAtomically(pinsFile, pins->dump(2) + "\n");
    }
    return outcome;
}

DownloadOutcome downloadCatalogueModel(const std::string& name, const ProgressFn& progress, const CancelToken* cancel) {
    const auto entry = catalogueEntry(name);
    if (!entry) {
        std::string known;
        for (const auto& e : modelCatalogue())
            known += (known.empty() ? "" : ", ") + e.name;
        throw Error("unknown model '" + name + "' (the catalogue has: " + known + ")");
    }
    DownloadRequest request;
    request.url = mirroredUrl(entry->url);
    request.target = downloadedModelsDir() / entry->file;
    request.expectedSha256 = entry->sha256;
    request.pinKey = entry->verified() ? std::string() : entry->name;
    return downloadFile(request, progress, cancel);
}

std::optional<std::string> pinnedSha256(const std::string& name) {
    const auto pins = readPins(downloadedModelsDir() / "pins.json");
    if (pins.contains(name) && pins[name].contains("sha256") && pins[name]["sha256"].is_string())
        return pins[name]["sha256"].get<std::string>();
    return std::nullopt;
}

std::int64_t partialDownloadBytes(const std::string& name) {
    const auto entry = catalogueEntry(name);
    if (!entry)
        return 0;
    const auto target = downloadedModelsDir() / entry->file;
    std::error_code ec;
    const auto part = partPath(target);
    return fs::is_regular_file(part, ec) ? std::int64_t(fs::file_size(part, ec)) : 0;
}

} // namespace vitrine::core::model

#include "core/data/file_actions.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/io/atomic_file.h"

namespace fs = std::filesystem;

namespace vitrine::core::data {

namespace {

constexpr const char* kJournalDir = ".vitrine";

std::string errnoText(int err) { return std::strerror(err); }

bool present(const fs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

void fsyncDir(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

std::string nowIso() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return buf;
}

/// RFC 2396 escaping of a path for the .trashinfo Path= key ('/' kept).
std::string percentEncode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || std::strchr("/-_.!~*'()", c))
            out += static_cast<char>(c);
        else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

bool sameBytes(const fs::path& a, const fs::path& b) {
    std::error_code ea, eb;
    const auto sa = fs::file_size(a, ea), sb = fs::file_size(b, eb);
    if (ea || eb || sa != sb)
        return false;
    std::FILE* fa = std::fopen(a.c_str(), "rb");
    std::FILE* fb = std::fopen(b.c_str(), "rb");
    bool same = fa && fb;
    std::vector<char> ba(1 << 16), bb(1 << 16);
    while (same) {
        const auto na = std::fread(ba.data(), 1, ba.size(), fa);
        const auto nb = std::fread(bb.data(), 1, bb.size(), fb);
        if (na != nb || std::memcmp(ba.data(), bb.data(), na) != 0)
            same = false;
        if (na == 0)
            break;
    }
    if (fa)
        std::fclose(fa);
    if (fb)
        std::fclose(fb);
    return same;
}

fs::path partPath(const fs::path& dst) { return dst.parent_path() / ("." + dst.filename().string() + ".vitrine-part"); }

const char* kindName(FileActionKind k) { return k == FileActionKind::Trash ? "trash" : "move"; }

nlohmann::json toJson(const FileAction& a) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : a.files) {
        nlohmann::json j{{"from", f.from}, {"to", f.to}};
        if (!f.info.empty())
            j["info"] = f.info;
        files.push_back(j);
    }
    return {{"id", a.id}, {"kind", kindName(a.kind)}, {"state", a.state}, {"time", a.time}, {"files", files}};
}

struct Journal {
    fs::path file;
    std::vector<FileAction> actions;

    static Journal load(const fs::path& root) {
        Journal j;
        j.file = journalPath(root);
        if (!present(j.file))
            return j;
        nlohmann::json doc;
        try {
            doc = nlohmann::json::parse(readFile(j.file));
            for (const auto& a : doc.at("actions")) {
                FileAction fa;
                fa.id = a.at("id").get<std::uint64_t>();
                fa.kind = a.at("kind").get<std::string>() == "trash" ? FileActionKind::Trash : FileActionKind::Move;
                fa.state = a.at("state").get<std::string>();
                fa.time = a.value("time", "");
                for (const auto& f : a.at("files"))
                    fa.files.push_back(
                        {f.at("from").get<std::string>(), f.at("to").get<std::string>(), f.value("info", "")});
                j.actions.push_back(std::move(fa));
            }
        } catch (const nlohmann::json::exception& e) {
            throw Error(j.file, std::string("the file-action journal is damaged (") + e.what() +
                                    "); move it aside to start a new one");
        }
        return j;
    }
    void save() const {
        nlohmann::json doc{{"version", 1}, {"actions", nlohmann::json::array()}};
        for (const auto& a : actions)
            doc["actions"].push_back(toJson(a));
        std::error_code ec;
        if (!fs::is_directory(file.parent_path(), ec)) {
            fs::create_directories(file.parent_path(), ec);
            if (ec)
                throw Error(file.parent_path(), "cannot create Vitrine's journal folder: " + ec.message());
            fsyncDir(file.parent_path().parent_path());
        }
        io::writeFileAtomically(file, doc.dump(1) + "\n");
    }
    FileAction* find(std::uint64_t id) {
        for (auto& a : actions)
            if (a.id == id)
                return &a;
        return nullptr;
    }
};

/// Runs the steps of one action against the file system.
class Runner {
public:
    Runner(fs::path root, const FileActionOptions& o, Journal& j, RecoveryReport* problems)
        : m_root(std::move(root)), m_options(o), m_journal(j), m_report(problems) {}

    void step() {
        if (m_options.afterStep)
            m_options.afterStep(++m_step);
    }

    fs::path abs(const std::string& p) const { return fs::path(p).is_absolute() ? fs::path(p) : m_root / p; }

    /// Forward (do) or backward (undo) for every file of `a`; journals name changes.
    void run(FileAction& a, bool forward) {
        for (auto& f : a.files) {
            std::string& srcName = forward ? f.from : f.to;
            std::string& dstName = forward ? f.to : f.from;
            for (int attempt = 0;; ++attempt) {
                const fs::path src = abs(srcName), dst = abs(dstName);
                const bool atSrc = present(src), atDst = present(dst);
                if (!atSrc && atDst)
                    break; // this file's step was done before a crash
                if (!atSrc && !atDst) {
                    problem(srcName + ": neither at " + srcName + " nor at " + dstName + "; left as it is");
                    break;
                }
                if (atDst && sameBytes(src, dst)) {
                    // A cross-device copy finished but the original was not deleted yet.
                    removeFile(src);
                    step();
                    break;
                }
                if (forward && a.kind == FileActionKind::Trash && !f.info.empty() && !present(f.info))
                    writeTrashInfo(f);
                bool clash = atDst;
                if (!clash) {
                    if (!present(dst.parent_path())) { // a class folder removed since (undo)
                        std::error_code ec;
                        fs::create_directories(dst.parent_path(), ec);
                        fsyncDir(dst.parent_path().parent_path());
                    }
                    clash = !moveNoReplace(src, dst);
                    if (!clash) {
                        step();
                        break;
                    }
                }
                if (attempt > 1000)
                    throw Error(dst, "cannot find a free name for it");
                // Someone else's file has this name now: pick the next free one, journal it.
                const std::string newName = freeName(dst, a.kind == FileActionKind::Trash && forward);
                renameInJournal(f, dstName, newName, a.kind == FileActionKind::Trash && forward);
                m_journal.save();
            }
            if (!forward && a.kind == FileActionKind::Trash && !f.info.empty() && present(abs(f.from)) &&
                present(f.info)) {
                removeFile(f.info);
                step();
            }
        }
    }

    void problem(const std::string& text) {
        if (m_report)
            m_report->problems.push_back(text);
        else
            m_problems.push_back(text);
    }
    const std::vector<std::string>& problems() const { return m_problems; }

private:
    void removeFile(const fs::path& p) {
        if (::unlink(p.c_str()) != 0 && errno != ENOENT)
            throw Error(p, "cannot delete: " + errnoText(errno));
        fsyncDir(p.parent_path());
    }

    void writeTrashInfo(const FileStep& f) {
        const fs::path original = m_root / f.from;
        const std::string body = "[Trash Info]\nPath=" + percentEncode(original.string()) +
                                 "\nDeletionDate=" + nowIso() + "\n";
        const int fd = ::open(f.info.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            throw Error(f.info, "cannot create the trash entry: " + errnoText(errno));
        const bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()) && ::fsync(fd) == 0;
        ::close(fd);
        if (!ok) {
            ::unlink(f.info.c_str());
            throw Error(f.info, "cannot write the trash entry: " + errnoText(errno));
        }
        fsyncDir(fs::path(f.info).parent_path());
        step();
    }

    /// false when `dst` exists (nothing moved). Throws core::Error on other failures.
    bool moveNoReplace(const fs::path& src, const fs::path& dst) {
        if (::renameat2(AT_FDCWD, src.c_str(), AT_FDCWD, dst.c_str(), RENAME_NOREPLACE) == 0) {
            fsyncDir(dst.parent_path());
            if (src.parent_path() != dst.parent_path())
                fsyncDir(src.parent_path());
            return true;
        }
        const int err = errno;
        if (err == EEXIST)
            return false;
        if (err == EXDEV)
            return copyAcross(src, dst);
        if (err == EINVAL || err == ENOSYS) { // no RENAME_NOREPLACE here: link() never replaces
            if (::link(src.c_str(), dst.c_str()) != 0) {
                if (errno == EEXIST)
                    return false;
                throw Error(src, "cannot move to " + dst.string() + ": " + errnoText(errno));
            }
            fsyncDir(dst.parent_path());
            removeFile(src);
            return true;
        }
        throw Error(src, "cannot move to " + dst.string() + ": " + errnoText(err));
    }

    /// Another device: copy to a hidden temporary beside `dst`, fsync, rename into place
    /// (never replacing), fsync the folder, then delete the source.
    bool copyAcross(const fs::path& src, const fs::path& dst) {
        const fs::path part = partPath(dst);
        struct stat st {};
        if (::stat(src.c_str(), &st) != 0)
            throw Error(src, "cannot read: " + errnoText(errno));
        const int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
        if (in < 0)
            throw Error(src, "cannot read: " + errnoText(errno));
        const int out = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
        if (out < 0) {
            const int err = errno;
            ::close(in);
            throw Error(part, "cannot create: " + errnoText(err));
        }
        std::vector<char> buf(1 << 20);
        bool ok = true;
        for (;;) {
            const ssize_t n = ::read(in, buf.data(), buf.size());
            if (n == 0)
                break;
            if (n < 0 || ::write(out, buf.data(), static_cast<std::size_t>(n)) != n) {
                ok = false;
                break;
            }
        }
        const int err = errno;
        const timespec times[2] = {st.st_atim, st.st_mtim};
        ::futimens(out, times);
        ok = ok && ::fsync(out) == 0;
        ::close(out);
        ::close(in);
        if (!ok) {
            ::unlink(part.c_str());
            throw Error(dst, "cannot copy " + src.string() + " here: " + errnoText(err));
        }
        step();
        if (::renameat2(AT_FDCWD, part.c_str(), AT_FDCWD, dst.c_str(), RENAME_NOREPLACE) != 0) {
            const int e = errno;
            ::unlink(part.c_str());
            if (e == EEXIST)
                return false;
            throw Error(dst, "cannot move into place: " + errnoText(e));
        }
        fsyncDir(dst.parent_path());
        step();
        removeFile(src);
        return true;
    }

    std::string freeName(const fs::path& dst, bool trash) const {
        const fs::path dir = dst.parent_path();
        const std::string name = clashFreeName(dst.filename().string(), [&](const std::string& n) {
            return !present(dir / n) && (!trash || !present(dir.parent_path() / "info" / (n + ".trashinfo")));
        });
        return (dir / name).string();
    }

    void renameInJournal(FileStep& f, std::string& dstName, const std::string& newAbs, bool trashForward) {
        if (trashForward) {
            // A new trash name needs a new .trashinfo; the one written for the old name goes.
            if (!f.info.empty() && present(f.info))
                ::unlink(f.info.c_str());
            const fs::path name = fs::path(newAbs).filename();
            f.info = (fs::path(newAbs).parent_path().parent_path() / "info" / (name.string() + ".trashinfo")).string();
            dstName = newAbs;
        } else if (fs::path(dstName).is_absolute()) {
            dstName = newAbs;
        } else {
            dstName = fs::path(newAbs).lexically_relative(m_root).generic_string();
        }
    }

    fs::path m_root;
    const FileActionOptions& m_options;
    Journal& m_journal;
    RecoveryReport* m_report;
    std::vector<std::string> m_problems;
    int m_step = 0;
};

fs::path canonicalRoot(const fs::path& root) {
    std::error_code ec;
    auto c = fs::canonical(root, ec);
    if (ec || !fs::is_directory(c))
        throw Error(root, "not a folder");
    return c;
}

/// `p` (relative to `root`, or absolute inside it) as a normal relative path whose every
/// component is a real folder or file (no symlink), not escaping the root, not the journal.
std::string insideRoot(const fs::path& root, const std::string& p, bool mustBeFile) {
    fs::path rel(p);
    if (rel.is_absolute()) {
        rel = rel.lexically_normal().lexically_relative(root);
        if (rel.empty())
            throw Error(p, "is outside the data set folder " + root.string() + "; refused");
    }
    rel = rel.lexically_normal();
    if (rel.empty() || rel == ".")
        throw Error(p, "names the data set folder itself, not a file; refused");
    for (const auto& part : rel) {
        if (part == "..")
            throw Error(p, "leads outside the data set folder " + root.string() + "; refused");
    }
    if (*rel.begin() == kJournalDir)
        throw Error(p, "is Vitrine's own journal folder; refused");
    fs::path walk = root;
    for (const auto& part : rel) {
        walk /= part;
        struct stat st {};
        if (::lstat(walk.c_str(), &st) != 0) {
            if (mustBeFile)
                throw Error(p, "no such file in " + root.string());
            break; // a folder still to be created
        }
        if (S_ISLNK(st.st_mode))
            throw Error(p, "goes through a symbolic link (" + walk.string() +
                               "); refused, it could lead outside the data set");
        if (walk != root / rel && !S_ISDIR(st.st_mode))
            throw Error(p, walk.string() + " is not a folder");
        if (walk == root / rel && mustBeFile && !S_ISREG(st.st_mode))
            throw Error(p, "not a regular file; refused");
    }
    return rel.generic_string();
}

void ensureDir(const fs::path& dir, fs::perms perms = fs::perms::owner_all | fs::perms::group_read |
                                                      fs::perms::group_exec | fs::perms::others_read |
                                                      fs::perms::others_exec) {
    std::error_code ec;
    if (fs::is_directory(dir, ec))
        return;
    fs::create_directories(dir, ec);
    if (ec)
        throw Error(dir, "cannot create the folder: " + ec.message());
    fs::permissions(dir, perms, ec);
    fsyncDir(dir.parent_path());
}

FileAction finish(const fs::path& root, const FileActionOptions& options, Journal& journal, FileAction& a,
                  bool forward) {
    Runner runner(root, options, journal, nullptr);
    runner.run(a, forward);
    a.state = forward ? "done" : "undone";
    journal.save();
    runner.step();
    if (!runner.problems().empty()) {
        std::string text;
        for (const auto& p : runner.problems())
            text += (text.empty() ? "" : "; ") + p;
        throw Error(text);
    }
    return a;
}

} // namespace

std::string clashFreeName(const std::string& name, const std::function<bool(const std::string&)>& free) {
    if (free(name))
        return name;
    const fs::path p(name);
    const std::string stem = p.stem().string(), ext = p.extension().string();
    for (int n = 2;; ++n) {
        std::string candidate = stem + " (" + std::to_string(n) + ")" + ext;
        if (free(candidate))
            return candidate;
    }
}

fs::path homeTrashDir() {
    if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x && fs::path(x).is_absolute())
        return fs::path(x) / "Trash";
    const char* home = std::getenv("HOME");
    if (!home || !*home)
        throw Error("cannot find the trash: neither $XDG_DATA_HOME nor $HOME is set");
    return fs::path(home) / ".local" / "share" / "Trash";
}

fs::path journalPath(const fs::path& root) { return root / kJournalDir / "journal.json"; }

RecoveryReport recover(const fs::path& rootIn, const FileActionOptions& options) {
    const fs::path root = canonicalRoot(rootIn);
    RecoveryReport rep;
    auto journal = Journal::load(root);
    for (auto& a : journal.actions) {
        if (a.state != "pending" && a.state != "undoing")
            continue;
        // The journal names every path; check them as if they were asked for now.
        for (const auto& f : a.files) {
            insideRoot(root, f.from, false);
            if (a.kind == FileActionKind::Move)
                insideRoot(root, f.to, false);
            else if (!fs::path(f.to).is_absolute() || fs::path(f.to).parent_path().filename() != "files" ||
                     fs::path(f.info).parent_path().filename() != "info")
                throw Error(journal.file, "a trash entry names " + f.to + ", which is not in a trash; not touched");
        }
        const bool forward = a.state == "pending";
        Runner runner(root, options, journal, &rep);
        runner.run(a, forward);
        a.state = forward ? "done" : "undone";
        journal.save();
        rep.completed.push_back(a);
    }
    return rep;
}

FileActions::FileActions(fs::path root, FileActionOptions options)
    : m_root(canonicalRoot(root)), m_options(std::move(options)) {
    m_recovered = recover(m_root, m_options);
}

namespace {

/// Journals `a` as the next action, "pending", then does it.
FileAction perform(const fs::path& root, const FileActionOptions& options, FileAction a) {
    auto journal = Journal::load(root);
    a.id = journal.actions.empty() ? 1 : journal.actions.back().id + 1;
    a.state = "pending";
    a.time = nowIso();
    journal.actions.push_back(std::move(a));
    journal.save();
    if (options.afterStep)
        options.afterStep(0);
    return finish(root, options, journal, journal.actions.back(), true);
}

} // namespace

FileAction FileActions::moveToClass(const std::vector<std::string>& paths, const std::string& classFolder) {
    const std::string folder = insideRoot(m_root, classFolder, false);
    if (present(m_root / folder) && !fs::is_directory(m_root / folder))
        throw Error(classFolder, "is a file, not a class folder");
    FileAction a;
    a.kind = FileActionKind::Move;
    std::set<std::string> taken;
    std::set<std::string> seen;
    for (const auto& p : paths) {
        const std::string from = insideRoot(m_root, p, true);
        if (!seen.insert(from).second)
            continue; // named twice
        if (fs::path(from).parent_path() == fs::path(folder))
            continue; // already in that class
        const std::string name = clashFreeName(fs::path(from).filename().string(), [&](const std::string& n) {
            const std::string rel = (fs::path(folder) / n).generic_string();
            return !present(m_root / rel) && !taken.count(rel);
        });
        const std::string to = (fs::path(folder) / name).generic_string();
        taken.insert(to);
        a.files.push_back({from, to, {}});
    }
    if (a.files.empty())
        return a;
    ensureDir(m_root / folder);
    return perform(m_root, m_options, std::move(a));
}

FileAction FileActions::trash(const std::vector<std::string>& paths) {
    const fs::path trashDir = m_options.trashDir.empty() ? homeTrashDir() : m_options.trashDir;
    FileAction a;
    a.kind = FileActionKind::Trash;
    std::vector<std::string> froms;
    for (const auto& p : paths)
        if (auto from = insideRoot(m_root, p, true); std::find(froms.begin(), froms.end(), from) == froms.end())
            froms.push_back(from);
    // The spec: Trash, files/ and info/ are created when missing, private to the user.
    ensureDir(trashDir, fs::perms::owner_all);
    ensureDir(trashDir / "files", fs::perms::owner_all);
    ensureDir(trashDir / "info", fs::perms::owner_all);
    std::set<std::string> taken;
    for (const auto& from : froms) {
        const std::string name = clashFreeName(fs::path(from).filename().string(), [&](const std::string& n) {
            return !present(trashDir / "files" / n) && !present(trashDir / "info" / (n + ".trashinfo")) &&
                   !taken.count(n);
        });
        taken.insert(name);
        a.files.push_back(
            {from, (trashDir / "files" / name).string(), (trashDir / "info" / (name + ".trashinfo")).string()});
    }
    if (a.files.empty())
        return a;
    return perform(m_root, m_options, std::move(a));
}

namespace {

/// Moves action `id` from state `from` to `via` in the journal, then finishes it forwards
/// (redo) or backwards (undo). `verb` names the request in errors.
FileAction replay(const fs::path& root, const FileActionOptions& options, std::uint64_t id, const char* verb,
                  const char* from, const char* via, bool forward) {
    auto journal = Journal::load(root);
    FileAction* a = journal.find(id);
    if (!a)
        throw Error(journal.file, "no file action " + std::to_string(id) + " to " + verb);
    if (a->state != from)
        throw Error(journal.file, "file action " + std::to_string(id) + " is " + a->state + ", not " + from +
                                      "; cannot " + verb + " it");
    a->state = via;
    journal.save();
    if (options.afterStep)
        options.afterStep(0);
    return finish(root, options, journal, *a, forward);
}

} // namespace

FileAction FileActions::undo(std::uint64_t id) {
    return replay(m_root, m_options, id, "undo", "done", "undoing", false);
}

FileAction FileActions::redo(std::uint64_t id) {
    return replay(m_root, m_options, id, "redo", "undone", "pending", true);
}

std::vector<FileAction> FileActions::history() const { return Journal::load(m_root).actions; }

} // namespace vitrine::core::data

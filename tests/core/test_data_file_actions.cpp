#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "../support/temp_dir.h"
#include "core/common/error.h"
#include "core/common/files.h"
#include "core/data/file_actions.h"

using namespace vitrine::core;
using namespace vitrine::core::data;
using vitrine::testutil::TempDir;
namespace fs = std::filesystem;

namespace {

/// A small class-per-folder set of real photos: cat/a.jpg, cat/b.jpg, cat/c.jpg, dog/d.jpg.
std::map<std::string, std::string> makeSet(const fs::path& root) {
    const fs::path demo(VITRINE_TEST_DATA);
    fs::create_directories(root / "cat");
    fs::create_directories(root / "dog");
    const std::map<std::string, fs::path> files{{"cat/a.jpg", demo / "cat/Abyssinian/Abyssinian_1.jpg"},
                                                {"cat/b.jpg", demo / "cat/Abyssinian/Abyssinian_2.jpg"},
                                                {"cat/c.jpg", demo / "cat/Abyssinian/Abyssinian_3.jpg"},
                                                {"dog/d.jpg", demo / "dog/beagle" / "beagle_1.jpg"}};
    std::map<std::string, std::string> bytes;
    for (const auto& [rel, src] : files) {
        fs::path from = src;
        if (!fs::exists(from)) // any photo of that breed will do
            for (const auto& e : fs::directory_iterator(src.parent_path())) {
                from = e.path();
                break;
            }
        fs::copy_file(from, root / rel);
        bytes[rel] = readFile(root / rel);
    }
    return bytes;
}

/// Every regular file under `dir` (relative path -> bytes), the journal folder left out.
std::map<std::string, std::string> contents(const fs::path& dir) {
    std::map<std::string, std::string> out;
    if (!fs::exists(dir))
        return out;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
        if (it->path().filename() == ".vitrine") {
            it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file())
            out[it->path().lexically_relative(dir).generic_string()] = readFile(it->path());
    }
    return out;
}

dev_t deviceOf(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? st.st_dev : 0;
}

/// A folder on another device than the temp folder (path empty when there is none), removed
/// with everything in it when the object goes away, even when a check threw.
struct OtherDeviceDir {
    fs::path path;
    explicit OtherDeviceDir(const std::string& name) {
        const fs::path shm = "/dev/shm";
        if (fs::is_directory(shm) && deviceOf(shm) != deviceOf(fs::temp_directory_path()) &&
            ::access(shm.c_str(), W_OK) == 0)
            path = shm / ("vitrine-test-" + name + "-" + std::to_string(::getpid()));
    }
    ~OtherDeviceDir() {
        std::error_code ec;
        if (!path.empty())
            fs::remove_all(path, ec);
    }
    bool empty() const { return path.empty(); }
};

} // namespace

TEST_CASE("moving to another class and undoing restores every file byte for byte", "[files]") {
    TempDir tmp("fa-move");
    const auto root = tmp / "set";
    const auto before = makeSet(root);
    FileActions files(root, {.trashDir = tmp / "Trash"});
    auto a = files.moveToClass({"cat/a.jpg", "cat/b.jpg", "cat/a.jpg", "dog/d.jpg"}, "dog"); // twice; already there
    REQUIRE(a.files.size() == 2);
    CHECK(a.state == "done");
    CHECK(a.files[0].to == "dog/a.jpg");
    CHECK(readFile(root / "dog/a.jpg") == before.at("cat/a.jpg"));
    CHECK_FALSE(fs::exists(root / "cat/a.jpg"));
    CHECK(fs::exists(journalPath(root)));
    CHECK(files.history().back().state == "done");

    // A new class folder (nested label) is created inside the root.
    auto b = files.moveToClass({"cat/c.jpg"}, "bird/parrot");
    CHECK(readFile(root / "bird/parrot/c.jpg") == before.at("cat/c.jpg"));

    files.undo(b.id);
    files.undo(a.id);
    CHECK(contents(root) == before);
    CHECK(files.history()[0].state == "undone");
    CHECK_THROWS_AS(files.undo(a.id), Error); // not done any more

    files.redo(a.id);
    CHECK(readFile(root / "dog/b.jpg") == before.at("cat/b.jpg"));
    files.undo(a.id);
    CHECK(contents(root) == before);
}

TEST_CASE("a name clash never overwrites: the file gets a numbered name", "[files]") {
    TempDir tmp("fa-clash");
    const auto root = tmp / "set";
    auto before = makeSet(root);
    fs::copy_file(root / "cat/b.jpg", root / "dog/a.jpg"); // dog/a.jpg exists with other bytes
    fs::create_directories(root / "cat/more");
    fs::copy_file(root / "cat/c.jpg", root / "cat/more/a.jpg");
    before = contents(root);
    FileActions files(root, {.trashDir = tmp / "Trash"});
    // Two files called a.jpg go to dog/, where a.jpg already is.
    auto a = files.moveToClass({"cat/a.jpg", "cat/more/a.jpg"}, "dog");
    REQUIRE(a.files.size() == 2);
    CHECK(a.files[0].to == "dog/a (2).jpg");
    CHECK(a.files[1].to == "dog/a (3).jpg");
    CHECK(readFile(root / "dog/a.jpg") == before.at("dog/a.jpg"));
    CHECK(readFile(root / "dog/a (2).jpg") == before.at("cat/a.jpg"));
    CHECK(readFile(root / "dog/a (3).jpg") == before.at("cat/more/a.jpg"));

    // While it was away, a new cat/a.jpg appeared: undo keeps both.
    std::ofstream(root / "cat/a.jpg") << "new";
    auto u = files.undo(a.id);
    CHECK(u.files[0].from == "cat/a (2).jpg");
    CHECK(readFile(root / "cat/a.jpg") == "new");
    CHECK(readFile(root / "cat/a (2).jpg") == before.at("cat/a.jpg"));
    CHECK(readFile(root / "cat/more/a.jpg") == before.at("cat/more/a.jpg"));
}

TEST_CASE("trash follows the freedesktop spec and undo brings the file back", "[files]") {
    TempDir tmp("fa-trash");
    const auto root = tmp / "set";
    const auto before = makeSet(root);
    auto check = [&](const fs::path& trashDir) {
        FileActions files(root, {.trashDir = trashDir});
        // A file of the same name is already in the trash: ours must not replace it.
        fs::create_directories(trashDir / "files");
        std::ofstream(trashDir / "files/a.jpg") << "someone else's";
        auto a = files.trash({"cat/a.jpg", "dog/d.jpg"});
        REQUIRE(a.files.size() == 2);
        CHECK_FALSE(fs::exists(root / "cat/a.jpg"));
        CHECK(a.files[0].to == (trashDir / "files/a (2).jpg").string());
        CHECK(readFile(a.files[0].to) == before.at("cat/a.jpg"));
        CHECK(readFile(trashDir / "files/a.jpg") == "someone else's");
        const auto info = readFile(a.files[0].info);
        CHECK(a.files[0].info == (trashDir / "info/a (2).jpg.trashinfo").string());
        CHECK(info.rfind("[Trash Info]\n", 0) == 0);
        CHECK(info.find("\nPath=" + (fs::canonical(root) / "cat/a.jpg").string() + "\n") != std::string::npos);
        CHECK(info.find("\nDeletionDate=20") != std::string::npos);
        CHECK(readFile(a.files[1].info).find("Path=" + (fs::canonical(root) / "dog/d.jpg").string()) !=
              std::string::npos);
        CHECK(contents(trashDir / "files").size() == 3); // no temporaries left
        files.undo(a.id);
        CHECK(contents(root) == before);
        CHECK_FALSE(fs::exists(a.files[0].info));
        CHECK_FALSE(fs::exists(a.files[1].info));
        CHECK(contents(trashDir / "files").size() == 1);
    };
    SECTION("on the same device") { check(tmp / "Trash"); }
    SECTION("on another device (copied, fsync'd, renamed, then deleted)") {
        const OtherDeviceDir other("fa-trash");
        if (other.empty()) {
            WARN("no second device (/dev/shm) here; cross-device trash not exercised");
            return;
        }
        check(other.path / "Trash");
    }
}

TEST_CASE("the trash is XDG_DATA_HOME/Trash, else HOME/.local/share/Trash", "[files]") {
    const char* oldXdg = std::getenv("XDG_DATA_HOME");
    const char* oldHome = std::getenv("HOME");
    const std::string savedXdg = oldXdg ? oldXdg : "", savedHome = oldHome ? oldHome : "";
    ::setenv("XDG_DATA_HOME", "/somewhere/data", 1);
    ::setenv("HOME", "/home/someone", 1);
    CHECK(homeTrashDir() == fs::path("/somewhere/data/Trash"));
    ::setenv("XDG_DATA_HOME", "relative/is/ignored", 1); // the spec: only absolute paths count
    CHECK(homeTrashDir() == fs::path("/home/someone/.local/share/Trash"));
    ::unsetenv("XDG_DATA_HOME");
    CHECK(homeTrashDir() == fs::path("/home/someone/.local/share/Trash"));
    ::unsetenv("HOME");
    CHECK_THROWS_AS(homeTrashDir(), Error);
    oldXdg ? ::setenv("XDG_DATA_HOME", savedXdg.c_str(), 1) : ::unsetenv("XDG_DATA_HOME");
    oldHome ? ::setenv("HOME", savedHome.c_str(), 1) : ::unsetenv("HOME");
}

TEST_CASE("paths escaping the data set are refused and nothing moves", "[files]") {
    TempDir tmp("fa-escape");
    const auto root = tmp / "set";
    const auto before = makeSet(root);
    std::ofstream(tmp / "outside.jpg") << "not yours";
    fs::create_directories(tmp / "elsewhere");
    fs::create_symlink(tmp / "outside.jpg", root / "cat/link.jpg");
    fs::create_directory_symlink(tmp / "elsewhere", root / "linked");
    FileActions files(root, {.trashDir = tmp / "Trash"});
    const auto journal = fs::exists(journalPath(root));
    CHECK_THROWS_AS(files.moveToClass({"../outside.jpg"}, "dog"), Error);
    CHECK_THROWS_AS(files.moveToClass({"cat/../../outside.jpg"}, "dog"), Error);
    CHECK_THROWS_AS(files.moveToClass({(tmp / "outside.jpg").string()}, "dog"), Error);
    CHECK_THROWS_AS(files.moveToClass({"cat/link.jpg"}, "dog"), Error);       // a symlinked file
    CHECK_THROWS_AS(files.moveToClass({"cat/a.jpg"}, "../elsewhere"), Error); // a class outside
    CHECK_THROWS_AS(files.moveToClass({"cat/a.jpg"}, "linked"), Error);       // through a symlink
    CHECK_THROWS_AS(files.moveToClass({"cat/a.jpg"}, "/tmp"), Error);
    CHECK_THROWS_AS(files.moveToClass({"cat/a.jpg", "cat/missing.jpg"}, "dog"), Error);
    CHECK_THROWS_AS(files.trash({"../outside.jpg"}), Error);
    CHECK_THROWS_AS(files.trash({"cat/link.jpg"}), Error);
    CHECK_THROWS_AS(files.trash({"cat"}), Error); // a folder, not an image
    CHECK_THROWS_AS(files.moveToClass({"cat/a.jpg"}, ".vitrine"), Error);
    // An absolute path inside the root is fine.
    auto contentsNow = contents(root);
    contentsNow.erase("cat/link.jpg");
    std::string names;
    for (const auto& [rel, bytes] : contentsNow)
        names += rel + " ";
    INFO(names);
    CHECK(contentsNow == before);
    CHECK(readFile(tmp / "outside.jpg") == "not yours");
    CHECK(fs::is_empty(tmp / "elsewhere"));
    CHECK(fs::exists(journalPath(root)) == journal); // refused before anything was journaled
    auto ok = files.moveToClass({(fs::canonical(root) / "cat/a.jpg").string()}, "dog");
    CHECK(ok.files.at(0).to == "dog/a.jpg");
}

namespace {

/// Runs `action` in a child process that dies (_exit) right after durable step `step`.
/// Returns true when the child died there, false when the action finished first.
bool crashAt(int step, const std::function<void(FileActionOptions)>& action, FileActionOptions options) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        options.afterStep = [step](int s) {
            if (s == step)
                ::_exit(42);
        };
        try {
            action(options);
        } catch (...) {
            ::_exit(3);
        }
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) != 3);
    return WEXITSTATUS(status) == 42;
}

void crashEverywhere(const std::string& name, const fs::path& trashDir, bool trash, bool crashInUndo) {
    TempDir tmp(name);
    int crashes = 0;
    for (int step = 0;; ++step) {
        const auto root = tmp / ("set" + std::to_string(step));
        const auto before = makeSet(root);
        fs::remove_all(trashDir);
        FileActionOptions opts{.trashDir = trashDir};
        const std::vector<std::string> paths{"cat/a.jpg", "cat/b.jpg", "dog/d.jpg"};
        std::uint64_t id = 0;
        if (crashInUndo) {
            FileActions files(root, opts);
            id = trash ? files.trash(paths).id : files.moveToClass(paths, "bird").id;
        }
        const bool crashed = crashAt(
            step,
            [&](FileActionOptions o) {
                FileActions files(root, o);
                if (crashInUndo)
                    files.undo(id);
                else if (trash)
                    files.trash(paths);
                else
                    files.moveToClass(paths, "bird");
            },
            opts);
        INFO("crash after step " << step);
        // The next start: recovery finishes what was interrupted.
        auto rep = recover(root, opts);
        CHECK(rep.problems.empty());
        auto now = contents(root);
        const auto inTrash = contents(trashDir / "files");
        for (const auto& [rel, bytes] : inTrash)
            now["trash:" + rel] = bytes;
        // Every file exactly once, byte for byte, where a finished action puts it.
        std::map<std::string, std::string> expected = before;
        if (!crashInUndo)
            for (const auto& p : paths) {
                const auto name = fs::path(p).filename().string();
                expected[trash ? "trash:" + name : "bird/" + name] = expected[p];
                expected.erase(p);
            }
        CHECK(now == expected);
        if (trash && !crashInUndo)
            CHECK(contents(trashDir / "info").size() == paths.size());
        if (trash && crashInUndo)
            CHECK(contents(trashDir / "info").empty());
        const auto history = FileActions(root, opts).history();
        REQUIRE(history.size() == 1);
        CHECK(history[0].state == (crashInUndo ? "undone" : "done"));
        if (!crashed)
            break;
        ++crashes;
        fs::remove_all(root);
    }
    CHECK(crashes >= 3);
}

} // namespace

TEST_CASE("a crash between any two steps of a move is finished by recover(), no file lost", "[files][crash]") {
    TempDir tmp("fa-crash-move");
    crashEverywhere("fa-crash-move-run", tmp / "Trash", false, false);
}

TEST_CASE("a crash between any two steps of trashing or of its undo is finished by recover()", "[files][crash]") {
    TempDir tmp("fa-crash-trash");
    crashEverywhere("fa-crash-trash-run", tmp / "Trash", true, false);
    crashEverywhere("fa-crash-trash-undo", tmp / "Trash", true, true);
    crashEverywhere("fa-crash-move-undo", tmp / "Trash", false, true);
    if (const OtherDeviceDir other("fa-crash"); !other.empty()) {
        // Across devices every file takes three steps (copy written, renamed, original deleted).
        crashEverywhere("fa-crash-trash-xdev", other.path / "Trash", true, false);
        crashEverywhere("fa-crash-trash-xdev-undo", other.path / "Trash", true, true);
    } else {
        WARN("no second device (/dev/shm) here; cross-device crashes not exercised");
    }
}

#pragma once
// Acting on a data set's files: relabelling (a move to another class folder) and moving to
// the desktop trash, each journaled, undoable and safe across a crash. Torch-free, no Qt:
// the GUI wraps each action in a QUndoCommand and runs it from a worker.
//
// Intended usage:
//   FileActions files(root);                       // also recovers an interrupted action
//   auto a = files.moveToClass({"cat/img_7.jpg"}, "dog");
//   auto b = files.trash({"dog/blurry.jpg"});
//   files.undo(b.id);                              // byte for byte back where it was
//
// Guarantees:
// - Only files inside `root` (and the trash) are touched. Source paths are relative to the
//   root (or absolute inside it) and are refused when they escape it ("..", a symlinked
//   file or folder on the way, the journal folder), as are class folders that do.
// - A name clash never overwrites: "x.jpg" becomes "x (2).jpg", "x (3).jpg", ...; renames use
//   RENAME_NOREPLACE, so a file appearing meanwhile is not overwritten either.
// - Journal first: every action is written to `<root>/.vitrine/journal.json` (atomically,
//   fsync'd, through io::writeFileAtomically) before any file moves, and marked done after.
//   Each per-file step can be recognised from the file system afterwards (the file is at its
//   source, at its destination, or — a cross-device copy finished but not yet deleted — at
//   both, with equal bytes), so recover() finishes an interrupted action (or an interrupted
//   undo) instead of guessing. It rolls forward: the person asked for it, and it was
//   journaled complete before the first file moved.
// - Trash: the freedesktop.org Trash specification's home trash, $XDG_DATA_HOME/Trash
//   (default ~/.local/share/Trash): files/NAME plus info/NAME.trashinfo with Path= (the
//   absolute, percent-encoded original path) and DeletionDate= (local time). The .trashinfo
//   is created first with O_EXCL, as the spec asks. When the data set is on another device
//   than the home trash, the file is copied there (copy, fsync, rename, then the original is
//   deleted) rather than trashed into a $topdir/.Trash-$uid: that folder would lie outside the
//   data set, which Vitrine promises not to touch. The spec allows this fallback.
// - Cross-device moves in general: copy to a hidden temporary beside the destination, fsync,
//   rename into place, fsync the folder, then delete the source.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace vitrine::core::data {

enum class FileActionKind { Move, Trash };

/// One file of an action, as journaled.
struct FileStep {
    std::string from; ///< path relative to the root ('/'-separated)
    std::string to;   ///< relative to the root (move) or absolute in the trash's files/ (trash)
    std::string info; ///< trash only: the absolute .trashinfo path
};

struct FileAction {
    std::uint64_t id = 0;
    FileActionKind kind = FileActionKind::Move;
    /// "pending" (being done), "done", "undoing", "undone".
    std::string state;
    std::string time; ///< when it was first done, ISO 8601 local time
    std::vector<FileStep> files;
};

struct RecoveryReport {
    /// The actions that were interrupted and have now been completed (or undone, for an
    /// interrupted undo), as they are after recovery.
    std::vector<FileAction> completed;
    /// Problems a person should know about ("cat/x.jpg: neither at its source nor its
    /// destination"); empty when every file was accounted for.
    std::vector<std::string> problems;
};

struct FileActionOptions {
    /// The trash folder (holding files/ and info/); empty = $XDG_DATA_HOME/Trash.
    std::filesystem::path trashDir;
    /// Called after every durable step with its number: 0 = the journal entry written, then
    /// 1, 2, ... per file step (a trash entry written, a file moved, a cross-device copy
    /// written / renamed into place, an original deleted), last the journal marked done.
    /// For crash tests: a hook that _exit()s.
    std::function<void(int step)> afterStep;
};

/// "x.jpg" -> "x (2).jpg", "x (3).jpg", ...: the first name that `free` accepts (`name`
/// itself when free). The one rule for a name clash, shared by every writer of user files.
std::string clashFreeName(const std::string& name, const std::function<bool(const std::string&)>& free);

/// The freedesktop home trash: $XDG_DATA_HOME/Trash, else $HOME/.local/share/Trash.
std::filesystem::path homeTrashDir();

/// "<root>/.vitrine/journal.json".
std::filesystem::path journalPath(const std::filesystem::path& root);

/// Finishes an action (or undo) that a crash interrupted, from the journal. Cheap when
/// nothing was interrupted (reads the journal only); call on opening a data set.
RecoveryReport recover(const std::filesystem::path& root, const FileActionOptions& options = {});

/// The journaled file actions on one data set folder. Not thread-safe: one instance, one
/// thread at a time (the GUI's worker).
class FileActions {
public:
    /// Throws core::Error when `root` is not a folder. Runs recover() first (see recovered()).
    explicit FileActions(std::filesystem::path root, FileActionOptions options = {});

    const std::filesystem::path& root() const { return m_root; }
    const RecoveryReport& recovered() const { return m_recovered; }

    /// Moves images (paths relative to the root) into the class folder `classFolder`
    /// (relative to the root, '/'-separated for nested labels; created when missing).
    /// Files already in that folder are left out. Returns the action as done: each step's
    /// `to` is the file's new relative path. Throws core::Error (naming the path) before
    /// touching anything when a path escapes the root or is not a regular file.
    FileAction moveToClass(const std::vector<std::string>& paths, const std::string& classFolder);
    /// Moves images to the trash (see the header comment). Same checks as moveToClass.
    FileAction trash(const std::vector<std::string>& paths);
    /// Undoes action `id` (must be "done"): every file back to where it was, byte for byte,
    /// its .trashinfo removed. When a new file took the original name meanwhile, the file
    /// comes back under a clash-free name ("x (2).jpg") and `from` says so.
    FileAction undo(std::uint64_t id);
    /// Does an undone action again (same destinations where still free).
    FileAction redo(std::uint64_t id);
    /// Every journaled action, oldest first.
    std::vector<FileAction> history() const;

private:
    std::filesystem::path m_root;
    FileActionOptions m_options;
    RecoveryReport m_recovered;
};

} // namespace vitrine::core::data
